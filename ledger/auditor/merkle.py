"""RFC 9162 (Certificate Transparency v2) Merkle hashing, and proof verification.

Leaves are ``SHA-256(0x00 || entry)``, interior nodes ``SHA-256(0x01 || left || right)``;
the root of the empty tree is ``SHA-256("")``. `CompactRange` holds the right edge of a
tree (one hash per set bit of its size), so appending a leaf and computing the root take
O(log n) memory for any n: the ledger integrates new entries with it, and the auditor
streams a whole bundle through it.

Proof verification implements the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms literally and
never raises on malformed input: a proof is attacker-controlled data, so anything that does
not check out is simply ``False``. Proof *generation* reads the ledger's stored subtrees
and lives beside its storage (ledger/merkle.py). :class:`ProofError` is reserved for
programming errors (impossible indexes or sizes, or a reader that lies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32


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


def is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtrees (largest first) right to left, as MTH's recursion does."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that leaf hash ``leaf`` is at ``index`` in the tree of ``size`` with ``root``.

    This is the RFC 9162 §2.1.3.2 algorithm; ``fn``/``sn`` walk the leaf's and the last
    leaf's positions up the tree, and the inner shift skips levels where the leaf's
    ancestor is the right-edge node with no sibling. Never raises.
    """
    if not 0 <= index < size or not is_hash(leaf) or not is_hash(root):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or not is_hash(p):
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
    if not is_hash(old_root) or not is_hash(new_root) or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == old_root)
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if not path or not all(is_hash(c) for c in path):
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

    The hashes are those of ``ledger.merkle.stored_nodes_for_range(0, size)``: one per set
    bit of ``size``, largest subtree first. Appending a leaf behaves like incrementing a binary
    counter: each trailing 1 bit of the old size is a subtree that now has a right sibling
    of equal size, so the two are merged and the merge is a newly completed stored node.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ProofError(f"negative tree size {size}")
        if len(hashes) != size.bit_count() or not all(is_hash(h) for h in hashes):
            raise ProofError(
                f"a compact range of size {size} needs {size.bit_count()} hashes of "
                f"{HASH_SIZE} bytes, got {len(hashes)}"
            )
        self._size = size
        self._hashes = list(hashes)

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
        if not is_hash(leaf):
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
        return fold(self._hashes) if self._hashes else EMPTY_ROOT

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
