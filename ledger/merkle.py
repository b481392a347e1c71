"""Proofs from the ledger's stored Merkle tree (RFC 9162 over stored perfect subtrees).

The ledger never keeps a tree in memory. It stores, for every leaf appended, the hash of
every *perfect* subtree that the leaf completes: node ``(level, index)`` is the hash of
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Those
nodes never change once written, so they can live in an append-only table, and every hash
the RFC needs -- roots, audit paths, consistency paths -- is assembled from O(log n) of them.

The only hashes that are *not* perfect subtrees are those on the right edge of a tree whose
size is not a power of two. They are recomputed on demand by folding the maximal perfect
subtrees that cover them (see :func:`stored_nodes_for_range`), which is what RFC 9162's
recursive definition of MTH reduces to for such ranges.

Proof generation plans every node it needs first and then calls
:meth:`HashReader.read_hashes` once, because the reader is a database round trip. The
hashing itself, proof verification and the compact range are the auditor's
(ledger/auditor/merkle.py), which needs no storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ledger.auditor.merkle import EMPTY_ROOT, CompactRange, ProofError, fold, is_hash

Node = tuple[int, int]  # a stored perfect subtree: (level, index)


class HashReader(Protocol):
    """Source of stored perfect-subtree hashes, typically a database table."""

    def read_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the hashes of ``nodes`` (``(level, index)`` pairs), in the same order."""
        ...


def _split(n: int) -> int:
    """Return the RFC's k for ``n >= 2``: the largest power of two strictly less than n."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_subtree(start: int, end: int) -> bool:
    """Report whether ``[start, end)`` is a node of some RFC 9162 tree.

    Every such node starts at a multiple of the smallest power of two >= its width. Only
    for those ranges does folding the maximal perfect subtrees right to left reproduce the
    RFC's left-heavy split; an unaligned range like [1, 4) would need node [1, 3), which is
    not stored, and in the worst case the hash would cost O(n) reads.
    """
    width = end - start
    return start >= 0 and width > 0 and start % (1 << (width - 1).bit_length()) == 0


def stored_nodes_for_range(start: int, end: int) -> list[Node]:
    """Decompose leaves ``[start, end)`` into maximal perfect subtrees, left to right.

    Each step takes the largest subtree that is both aligned at ``start`` and fits before
    ``end``, so the result has at most ``2 * log2(end - start)`` nodes; for a range that
    starts at 0 it is exactly one node per set bit of ``end``, largest first.
    """
    if start < 0 or end < start:
        raise ProofError(f"invalid leaf range [{start}, {end})")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _read(reader: HashReader, nodes: Sequence[Node]) -> list[bytes]:
    """Read ``nodes`` in one call, refusing to build on a short or malformed answer."""
    if not nodes:
        return []
    hashes = reader.read_hashes(nodes)
    if len(hashes) != len(nodes) or not all(is_hash(h) for h in hashes):
        raise ProofError(f"reader returned {len(hashes)} hashes for {len(nodes)} nodes")
    return hashes


def _hash_ranges(ranges: Sequence[tuple[int, int]], reader: HashReader) -> list[bytes]:
    """Return MTH of each RFC subtree in ``ranges`` using a single batched read."""
    plans = [stored_nodes_for_range(a, b) for a, b in ranges]
    hashes = _read(reader, [node for plan in plans for node in plan])
    out: list[bytes] = []
    pos = 0
    for plan in plans:
        out.append(fold(hashes[pos : pos + len(plan)]))
        pos += len(plan)
    return out


def subtree_hash(start: int, end: int, reader: HashReader) -> bytes:
    """Return MTH(D[start:end]) for an RFC 9162 subtree, reading O(log n) stored nodes.

    Raises ProofError for an empty range or one that is not a node of any RFC tree (its
    start is not a multiple of the smallest power of two >= its width); see _is_subtree.
    """
    if not _is_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not an RFC 9162 subtree")
    return fold(_read(reader, stored_nodes_for_range(start, end)))


def tree_hash(size: int, reader: HashReader) -> bytes:
    """Return the root of the first ``size`` leaves (EMPTY_ROOT for size 0)."""
    if size < 0:
        raise ProofError(f"negative tree size {size}")
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, reader)


def inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """Return PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf-adjacent sibling first.

    Walking down from the root, each step records the sibling of the half that holds the
    leaf. Left siblings are always perfect (one stored node). A right sibling is imperfect
    only while the walk is still on the tree's right edge, which happens at most once, so
    the proof reads O(log n) nodes in total, in one read_hashes call.
    """
    return _hash_ranges(_audit_path(index, size), reader)


def proven_leaves(
    indexes: Sequence[int], size: int, reader: HashReader
) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
    """The root of D[size] and, for each of `indexes`, its leaf hash and PATH(index,
    D[size]), in ONE read_hashes call: a batch of receipts (ledger/receipt.py) costs one
    round trip, and neighbouring leaves share most siblings, which are read once."""
    paths = [_audit_path(index, size) for index in indexes]
    ranges = [(0, size)] + [(i, i + 1) for i in indexes] + [r for path in paths for r in path]
    hashes = _hash_ranges(ranges, reader)
    root, leaves, pos = hashes[0], hashes[1 : 1 + len(indexes)], 1 + len(indexes)
    proven: list[tuple[bytes, list[bytes]]] = []
    for leaf, path in zip(leaves, paths, strict=True):
        proven.append((leaf, hashes[pos : pos + len(path)]))
        pos += len(path)
    return root, proven


def _audit_path(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges of PATH(index, D[size]), leaf-adjacent sibling first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} out of range for tree size {size}")
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1).

    This is SUBPROOF(m, D[n], true) unrolled into a loop over ``[lo, hi)``. The RFC defines
    it for 0 < m < n; for m == 0 or m == n there is nothing to prove and the proof is empty,
    which is what verify_consistency expects. As with inclusion proofs only one
    recorded range can be imperfect, so this reads O(log n) nodes in one call.
    """
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, whole = 0, new_size, True  # whole: the RFC's b, "[lo, hi) is the old root"
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, whole = lo + k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return _hash_ranges(ranges, reader)


def load_compact_range(size: int, reader: HashReader) -> CompactRange:
    """The right edge of the tree of ``size`` leaves, loaded in one read."""
    if size < 0:
        raise ProofError(f"negative tree size {size}")
    return CompactRange(size, _read(reader, stored_nodes_for_range(0, size)))
