"""Tests for ledger.merkle against a naive RFC 9162 reference and published CT vectors."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auditor.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    load_compact_range,
    stored_nodes_for_range,
    subtree_hash,
    tree_hash,
)

# --------------------------------------------------------------------------------------
# Naive reference, written straight from the recursive definitions in RFC 9162 §2.1.
# It hashes with hashlib directly so it does not share code with the module under test.


def ref_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """Largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for a list of entries."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return ref_leaf(d[0])
    k = ref_k(n)
    return ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); empty for the trivial cases m == 0 and m == n."""
    return [] if m in (0, len(d)) else ref_subproof(m, d, True)


def entry(i: int) -> bytes:
    return b"entry-%d" % i


@cache
def ref_mth_range(start: int, end: int) -> bytes:
    """MTH of the generated entries [start, end), memoised for the big property tests."""
    if end - start == 1:
        return ref_leaf(entry(start))
    k = ref_k(end - start)
    return ref_node(ref_mth_range(start, start + k), ref_mth_range(start + k, end))


# --------------------------------------------------------------------------------------
# Storage double.


class DictReader:
    """A HashReader over a dict, recording each read so tests can check batching.

    ``size`` optionally limits the reader to nodes inside [0, size), proving that proofs
    for a tree of that size never look at leaves the tree does not have.
    """

    def __init__(self, store: dict[tuple[int, int], bytes], size: int | None = None) -> None:
        self.store = store
        self.size = size
        self.calls: list[list[tuple[int, int]]] = []

    def read_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        nodes = list(nodes)
        self.calls.append(nodes)
        if self.size is not None:
            for level, index in nodes:
                assert (index + 1) << level <= self.size, (level, index, self.size)
        return [self.store[n] for n in nodes]

    def at(self, size: int) -> DictReader:
        return DictReader(self.store, size)

    @property
    def nodes_read(self) -> int:
        return sum(len(c) for c in self.calls)


def perfect_nodes(size: int) -> set[tuple[int, int]]:
    """Every (level, index) whose leaves all lie in [0, size)."""
    return {(level, index) for level in range(size.bit_length()) for index in range(size >> level)}


def build(entries: Sequence[bytes]) -> tuple[DictReader, CompactRange]:
    """Append entries through CompactRange.append, storing exactly what it returns."""
    store: dict[tuple[int, int], bytes] = {}
    cr = CompactRange()
    for i, e in enumerate(entries):
        completed = cr.append(leaf_hash(e))
        assert completed[0] == (0, i, leaf_hash(e))
        assert [lvl for lvl, _, _ in completed] == list(range(len(completed)))
        for level, index, h in completed:
            assert (level, index) not in store
            store[(level, index)] = h
    return DictReader(store), cr


BIG = 2000
BIG_ENTRIES = [entry(i) for i in range(BIG)]


@cache
def big_reader() -> DictReader:
    return build(BIG_ENTRIES)[0]


def log_bound(n: int) -> int:
    """Upper bound on stored nodes a proof may touch: O(log n)."""
    return 2 * n.bit_length() + 2


# --------------------------------------------------------------------------------------
# Known-answer vectors.
#
# Leaf inputs, node hashes, roots and compact ranges: transparency-dev/merkle,
# testonly/constants.go (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1), functions
# LeafInputs, NodeHashes, RootHashes, CompactTrees. Inclusion and consistency proofs:
# transparency-dev/merkle, proof/verify_test.go (commit
# 02194e9afb6c1d95b5381350007963aa70fff472), vars inclusionProofs / consistencyProofs.
# These are the classic vectors from Google's certificate-transparency merkle_tree tests.
# Note that verify_test.go numbers inclusion leaves from 1; they are 0-based below.

KAT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

KAT_NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

KAT_ROOTS = [  # indexed by tree size
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# CompactTrees(): the compact range of each size, as (level, index) into KAT_NODES.
KAT_COMPACT = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

KAT_INCLUSION = [  # (0-based index, size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

KAT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def hx(hashes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def test_kat_primitives() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT.hex() == KAT_ROOTS[0]
    for i, e in enumerate(KAT_LEAVES):
        assert leaf_hash(e).hex() == KAT_NODES[0][i]
    for level in range(1, len(KAT_NODES)):
        for i, h in enumerate(KAT_NODES[level]):
            left, right = KAT_NODES[level - 1][2 * i], KAT_NODES[level - 1][2 * i + 1]
            assert node_hash(bytes.fromhex(left), bytes.fromhex(right)).hex() == h


def test_kat_stored_nodes_roots_and_compact_ranges() -> None:
    reader, _ = build(KAT_LEAVES)
    expected = {
        (level, i): bytes.fromhex(h)
        for level, row in enumerate(KAT_NODES)
        for i, h in enumerate(row)
    }
    assert reader.store == expected
    cr = CompactRange()
    for size in range(len(KAT_ROOTS)):
        want = [bytes.fromhex(KAT_NODES[lvl][i]) for lvl, i in KAT_COMPACT[size]]
        assert cr.hashes == want
        assert stored_nodes_for_range(0, size) == KAT_COMPACT[size]
        assert cr.root().hex() == KAT_ROOTS[size]
        assert tree_hash(size, reader.at(size)).hex() == KAT_ROOTS[size]
        assert load_compact_range(size, reader.at(size)).hashes == want
        if size < len(KAT_LEAVES):
            cr.append(leaf_hash(KAT_LEAVES[size]))


@pytest.mark.parametrize(("index", "size", "proof"), KAT_INCLUSION)
def test_kat_inclusion(index: int, size: int, proof: list[str]) -> None:
    reader, _ = build(KAT_LEAVES)
    assert inclusion_proof(index, size, reader.at(size)) == hx(proof)
    root = bytes.fromhex(KAT_ROOTS[size])
    assert verify_inclusion(index, size, leaf_hash(KAT_LEAVES[index]), hx(proof), root)


@pytest.mark.parametrize(("old", "new", "proof"), KAT_CONSISTENCY)
def test_kat_consistency(old: int, new: int, proof: list[str]) -> None:
    reader, _ = build(KAT_LEAVES)
    assert consistency_proof(old, new, reader.at(new)) == hx(proof)
    old_root, new_root = bytes.fromhex(KAT_ROOTS[old]), bytes.fromhex(KAT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, hx(proof))


# --------------------------------------------------------------------------------------
# Exhaustive checks against the naive reference for small trees.


def test_stored_nodes_match_naive_subtrees() -> None:
    entries = [entry(i) for i in range(130)]
    reader, _ = build(entries)
    assert set(reader.store) == perfect_nodes(130)
    for (level, index), h in reader.store.items():
        assert h == ref_mth(entries[index << level : (index + 1) << level])


def test_stored_nodes_for_range_is_maximal_decomposition() -> None:
    for start in range(70):
        for end in range(start, 70):
            nodes = stored_nodes_for_range(start, end)
            pos = start
            for level, index in nodes:
                assert index << level == pos  # contiguous and aligned
                pos += 1 << level
            assert pos == end
            # Maximal: no two adjacent nodes are siblings that could have been merged.
            for (l1, i1), (l2, i2) in itertools.pairwise(nodes):
                assert not (l1 == l2 and i1 % 2 == 0 and i2 == i1 + 1)
            assert len(nodes) <= log_bound(end - start)
    assert stored_nodes_for_range(5, 13) == [(0, 5), (1, 3), (2, 2), (0, 12)]


def test_subtree_hash_all_rfc_subtrees() -> None:
    entries = [entry(i) for i in range(64)]
    reader, _ = build(entries)
    for start in range(64):
        for end in range(start + 1, 65):
            width = end - start
            aligned = start % (1 << (width - 1).bit_length()) == 0
            if aligned:
                got = subtree_hash(start, end, reader.at(end))
                assert got == ref_mth(entries[start:end])
            else:
                with pytest.raises(ProofError):
                    subtree_hash(start, end, reader)


def test_exhaustive_small_trees() -> None:
    """Sizes 1..64: root and every inclusion and consistency proof equal the RFC's."""
    entries: list[bytes] = []
    store: dict[tuple[int, int], bytes] = {}
    cr = CompactRange()
    roots = [EMPTY_ROOT]
    for n in range(1, 65):
        entries.append(entry(n - 1))
        for level, index, h in cr.append(leaf_hash(entries[-1])):
            store[(level, index)] = h
        assert set(store) == perfect_nodes(n)
        root = ref_mth(entries)
        roots.append(root)
        assert cr.root() == root
        assert tree_hash(n, DictReader(store, n)) == root
        for m in range(n):
            reader = DictReader(store, n)
            proof = inclusion_proof(m, n, reader)
            assert proof == ref_path(m, entries)
            assert len(reader.calls) == (1 if proof else 0)
            assert reader.nodes_read <= log_bound(n)
            assert verify_inclusion(m, n, leaf_hash(entries[m]), proof, root)
        for m in range(0, n + 1):
            reader = DictReader(store, n)
            proof = consistency_proof(m, n, reader)
            assert proof == ref_proof(m, entries)
            assert len(reader.calls) == (1 if proof else 0)
            assert reader.nodes_read <= log_bound(n)
            assert verify_consistency(m, n, roots[m], root, proof)


# --------------------------------------------------------------------------------------
# Property tests on a 2000-leaf tree.


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_property_inclusion(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, BIG), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    reader = big_reader().at(size)
    proof = inclusion_proof(index, size, reader)
    assert proof == ref_path(index, BIG_ENTRIES[:size])
    assert len(reader.calls) <= 1
    assert reader.nodes_read <= log_bound(size)
    root = ref_mth_range(0, size)
    assert tree_hash(size, big_reader().at(size)) == root
    assert verify_inclusion(index, size, leaf_hash(BIG_ENTRIES[index]), proof, root)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_property_consistency(data: st.DataObject) -> None:
    new = data.draw(st.integers(1, BIG), label="new")
    old = data.draw(st.integers(0, new), label="old")
    reader = big_reader().at(new)
    proof = consistency_proof(old, new, reader)
    assert proof == ref_proof(old, BIG_ENTRIES[:new])
    assert len(reader.calls) <= 1
    assert reader.nodes_read <= log_bound(new)
    old_root = ref_mth_range(0, old) if old else EMPTY_ROOT
    assert verify_consistency(old, new, old_root, ref_mth_range(0, new), proof)


# --------------------------------------------------------------------------------------
# Negative tests: verification must reject, and never raise on, tampered input.

GARBAGE = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def flipped(proof: Sequence[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ (1 << bit)]) + out[i][1:]
    return out


def inclusion_probes(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> list[tuple[int, int, bytes, list[bytes], bytes]]:
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, GARBAGE, proof, root),
        (index, size, leaf[:-1], proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, GARBAGE),
        (index, size, leaf, proof, root + b"\x00"),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
        (-1, size, leaf, proof, root),
        (index, -size, leaf, proof, root),
    ]
    for i in range(len(proof)):
        probes.append((index, size, leaf, flipped(proof, i, 3), root))
        probes.append((index, size, leaf, [*proof[:i], proof[i][:-1], *proof[i + 1 :]], root))
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
        probes.append((index, size, leaf, proof[1:], root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], GARBAGE, *proof[1:]], root))
    return probes


def consistency_probes(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (new, old, r1, r2, proof),
        (-old, new, r1, r2, proof),
        (old, new, GARBAGE, r2, proof),
        (old, new, r1, GARBAGE, proof),
        (old, new, r2, r1, proof),
        (old, new, r1[:-1], r2, proof),
        (old, new, r1, r2 + b"\x00", proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
        (old, new, r1, r2, proof[1:]),
    ]
    for i in range(len(proof)):
        probes.append((old, new, r1, r2, flipped(proof, i, 4)))
        probes.append((old, new, r1, r2, [*proof[:i], proof[i] + b"\x00", *proof[i + 1 :]]))
    return probes


def test_negative_exhaustive_small_trees() -> None:
    entries = [entry(i) for i in range(40)]
    reader, _ = build(entries)
    roots = [ref_mth(entries[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(n):
            leaf = leaf_hash(entries[m])
            proof = inclusion_proof(m, n, reader.at(n))
            for probe in inclusion_probes(m, n, leaf, proof, roots[n]):
                assert verify_inclusion(*probe) is False, (m, n, probe[:2])
        for m in range(1, n):  # only non-trivial consistency proofs have anything to tamper
            proof = consistency_proof(m, n, reader.at(n))
            for cprobe in consistency_probes(m, n, roots[m], roots[n], proof):
                assert verify_consistency(*cprobe) is False, (m, n, cprobe[:2])


def test_trivial_consistency_cases() -> None:
    r1, r2 = leaf_hash(b"a"), leaf_hash(b"b")
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, r2, [])
    assert verify_consistency(3, 3, r1, r1, [])
    assert not verify_consistency(0, 0, r1, r1, [])  # size 0 has exactly one root
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(0, 5, r1, r2, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r2, [EMPTY_ROOT])
    assert not verify_consistency(3, 3, r1, r2, [])
    assert not verify_consistency(3, 3, r1, r1, [r1])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [r1])
    assert not verify_consistency(-1, 1, r1, r2, [r1])
    # Non-bytes junk (e.g. from a badly parsed JSON proof) is rejected, not a TypeError.
    assert not verify_consistency(3, 4, r1, r2, [r1, None, r2])  # type: ignore[list-item]
    assert not verify_consistency(3, 4, None, r2, [r1])  # type: ignore[arg-type]


def test_verify_inclusion_degenerate_inputs() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(0, 1, h, [], h)
    assert not verify_inclusion(0, 1, h, [], b"")
    assert not verify_inclusion(0, 1, b"", [], h)
    assert not verify_inclusion(0, 1, b"", [], b"")
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1), (0, -1)]:
        assert not verify_inclusion(index, size, h, [], h)
        assert not verify_inclusion(index, size, h, [], EMPTY_ROOT)
    assert not verify_inclusion(0, 2, h, [None], h)  # type: ignore[list-item]


def test_generation_rejects_impossible_arguments() -> None:
    reader, _ = build([entry(i) for i in range(8)])
    bad_calls: list[Callable[[], object]] = [
        lambda: inclusion_proof(8, 8, reader),
        lambda: inclusion_proof(0, 0, reader),
        lambda: inclusion_proof(-1, 8, reader),
        lambda: consistency_proof(5, 4, reader),
        lambda: consistency_proof(-1, 4, reader),
        lambda: tree_hash(-1, reader),
        lambda: subtree_hash(3, 3, reader),
        lambda: subtree_hash(1, 4, reader),
        lambda: stored_nodes_for_range(4, 3),
        lambda: stored_nodes_for_range(-1, 3),
        lambda: CompactRange(-1),
        lambda: CompactRange(3, [EMPTY_ROOT]),
        lambda: CompactRange(1, [b"short"]),
        lambda: CompactRange().append(b"not a hash"),
    ]
    for bad in bad_calls:
        with pytest.raises(ProofError):
            bad()
    assert consistency_proof(0, 8, reader) == []
    assert consistency_proof(8, 8, reader) == []
    assert not reader.calls


def test_lying_reader_is_detected() -> None:
    class ShortReader:
        def read_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
            return [EMPTY_ROOT] * (len(nodes) - 1)

    with pytest.raises(ProofError):
        tree_hash(3, ShortReader())


# --------------------------------------------------------------------------------------
# CompactRange.


def test_compact_range_roots_and_resume() -> None:
    limit = 300
    entries = [entry(i) for i in range(limit)]
    reader, _ = build(entries)
    scratch = CompactRange()
    snapshots: list[CompactRange] = []
    for n in range(limit + 1):
        assert scratch.size == n
        assert scratch.root() == ref_mth(entries[:n])
        assert scratch.hashes == reader.read_hashes(stored_nodes_for_range(0, n))
        snapshots.append(CompactRange(scratch.size, scratch.hashes))
        if n < limit:
            scratch.append(leaf_hash(entries[n]))
    for start in range(0, limit + 1, 7):
        resumed = load_compact_range(start, reader.at(start))
        assert resumed.hashes == snapshots[start].hashes
        for n in range(start, min(start + 40, limit)):
            completed = resumed.append(leaf_hash(entries[n]))
            for level, index, h in completed:
                assert reader.store[(level, index)] == h
            assert resumed.hashes == snapshots[n + 1].hashes
            assert resumed.root() == snapshots[n + 1].root()


def test_compact_range_copies_and_empty() -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    assert load_compact_range(0, DictReader({})).root() == EMPTY_ROOT
    cr.append(leaf_hash(b"x"))
    cr.hashes.clear()  # a copy: must not affect the range
    assert cr.hashes == [leaf_hash(b"x")]
    assert "size=1" in repr(cr)
