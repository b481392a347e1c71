"""RFC 9162 (Certificate Transparency v2) Merkle trees over stored perfect subtrees.

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
:meth:`HashReader.read_hashes` once, because the reader is a database round trip.
Proof verification implements the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms literally and
never raises on malformed input: a proof is attacker-controlled data, so anything that does
not check out is simply ``False``. :class:`ProofError` is reserved for programming errors
in the generation functions (impossible indexes or sizes, or a reader that lies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32

Node = tuple[int, int]  # a stored perfect subtree: (level, index)


def leaf_hash(entry: bytes) -> bytes:
    """Return ``SHA-256(0x00 || entry)``: the RFC 9162 hash of one log entry.

    The 0x00 / 0x01 prefixes keep leaf and interior hashes in disjoint domains, so an
    interior node can never be passed off as a leaf (second-preimage protection).
    """
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``: the RFC 9162 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree is the hash of the empty string (RFC 9162 §2.1.1)."""


class ProofError(ValueError):
    """An impossible request to a proof-generation function (or an inconsistent reader)."""


class HashReader(Protocol):
    """Source of stored perfect-subtree hashes, typically a database table."""

    def read_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the hashes of ``nodes`` (``(level, index)`` pairs), in the same order."""
        ...


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


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
    if len(hashes) != len(nodes) or not all(_is_hash(h) for h in hashes):
        raise ProofError(f"reader returned {len(hashes)} hashes for {len(nodes)} nodes")
    return hashes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtrees (largest first) right to left, as MTH's recursion does."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _hash_ranges(ranges: Sequence[tuple[int, int]], reader: HashReader) -> list[bytes]:
    """Return MTH of each RFC subtree in ``ranges`` using a single batched read."""
    plans = [stored_nodes_for_range(a, b) for a, b in ranges]
    hashes = _read(reader, [node for plan in plans for node in plan])
    out: list[bytes] = []
    pos = 0
    for plan in plans:
        out.append(_fold(hashes[pos : pos + len(plan)]))
        pos += len(plan)
    return out


def subtree_hash(start: int, end: int, reader: HashReader) -> bytes:
    """Return MTH(D[start:end]) for an RFC 9162 subtree, reading O(log n) stored nodes.

    Raises ProofError for an empty range or one that is not a node of any RFC tree (its
    start is not a multiple of the smallest power of two >= its width); see _is_subtree.
    """
    if not _is_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not an RFC 9162 subtree")
    return _fold(_read(reader, stored_nodes_for_range(start, end)))


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
    return _hash_ranges(siblings, reader)


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


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that leaf hash ``leaf`` is at ``index`` in the tree of ``size`` with ``root``.

    This is the RFC 9162 §2.1.3.2 algorithm; ``fn``/``sn`` walk the leaf's and the last
    leaf's positions up the tree, and the inner shift skips levels where the leaf's
    ancestor is the right-edge node with no sibling. Never raises.
    """
    if not 0 <= index < size or not _is_hash(leaf) or not _is_hash(root):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or not _is_hash(p):
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree (new_size, new_root) extends the tree (old_size, old_root).

    Sizes 0 and old == new are the RFC's trivial cases and need an empty proof (and, for
    size 0, the empty root). Everything else is RFC 9162 §2.1.4.2, which rebuilds both roots
    from one path: ``fr`` from the nodes left of the old edge, ``sr`` from all of them.
    Never raises.
    """
    if not _is_hash(old_root) or not _is_hash(new_root) or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == old_root)
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if not path or not all(_is_hash(c) for c in path):
        return False
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # the old tree is one perfect node the proof omits
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The right edge of a tree (the O(log n) perfect-subtree hashes covering leaves
    [0, size)), for appending leaves and computing the root without rereading the log
    (used both when integrating new entries and when an auditor streams the whole log).

    The hashes are exactly ``stored_nodes_for_range(0, size)``: one per set bit of
    ``size``, largest subtree first. Appending a leaf behaves like incrementing a binary
    counter: each trailing 1 bit of the old size is a subtree that now has a right sibling
    of equal size, so the two are merged and the merge is a newly completed stored node.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ProofError(f"negative tree size {size}")
        if len(hashes) != size.bit_count() or not all(_is_hash(h) for h in hashes):
            raise ProofError(
                f"a compact range of size {size} needs {size.bit_count()} hashes of "
                f"{HASH_SIZE} bytes, got {len(hashes)}"
            )
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def from_reader(cls, size: int, reader: HashReader) -> CompactRange:
        """Load the right edge of the tree of ``size`` leaves in one read."""
        if size < 0:
            raise ProofError(f"negative tree size {size}")
        return cls(size, _read(reader, stored_nodes_for_range(0, size)))

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """A copy of the perfect-subtree hashes, largest (leftmost) first."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf *hash*; return every newly completed node, level 0 first.

        The first entry is always ``(0, size_before, leaf)``; the caller stores them all.
        """
        if not _is_hash(leaf):
            raise ProofError(f"a leaf hash must be {HASH_SIZE} bytes")
        index = self._size
        completed = [(0, index, leaf)]
        acc, level = leaf, 0
        while (index >> level) & 1:
            acc = node_hash(self._hashes.pop(), acc)
            level += 1
            completed.append((level, index >> level, acc))
        self._hashes.append(acc)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return the RFC 9162 root of the current size (EMPTY_ROOT when size is 0)."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
