"""The log as C2SP tlog-tiles: what a tile holds, where it lives, and entry bundles.

A tile of level L and index N holds the tree's nodes at level 8L with indexes
N*256 .. N*256+255, each 32 bytes, concatenated (tiles of height 8, as Go's
golang.org/x/mod/sumdb/tlog lays them out). Those nodes are exactly the perfect subtrees
ledger/storage.py keeps in ledger_merkle_nodes, so a tile is one range read of one level
and nothing is hashed to serve it. A node exists only once its subtree is complete, so
a tree of `size` leaves has `size >> 8L` nodes at level 8L: the last tile of a level is
partial (width 1..255) until it fills, and then never changes again.

An entry bundle holds the entries of leaves N*256 .. N*256+W-1, each as a big-endian
uint16 length and the stored bytes. The ledger accepts entries of up to MAX_LINE bytes
(4 MiB), so an entry may not fit a bundle: such a bundle is refused
(`EntryTooLargeForBundle`) rather than cut short or re-encoded, and those entries are
read through the API's entry routes instead; the hash tiles cover them as any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.auditor.merkle import HASH_SIZE, leaf_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: The longest entry a bundle can carry: its length is a uint16.
MAX_BUNDLE_ENTRY = 0xFFFF
#: One path element of a tile index: three digits, all but the last prefixed with x.
_INDEX = re.compile(r"^(?:x\d{3}/)*\d{3}$")
_PARTIAL = re.compile(r"^(?P<index>.+)\.p/(?P<width>\d{1,3})$")


class TileError(ValueError):
    """A tile path that is not one (malformed, or a width outside 1..255)."""


class EntryTooLargeForBundle(ValueError):
    """An entry of the bundle is longer than a uint16 length can say."""

    def __init__(self, leaf_index: int, length: int) -> None:
        super().__init__(
            f"entry {leaf_index} is {length} bytes; an entry bundle carries at most "
            f"{MAX_BUNDLE_ENTRY} (read it from /v1/log/entries?start={leaf_index}&limit=1)"
        )
        self.leaf_index = leaf_index


class BrokenStore(Exception):
    """What storage holds is not a tree: a node of a tile missing, or an entry that does
    not hash to its stored leaf. Never served as a short or unmatched tile."""


class NodeReader(Protocol):
    """The stored nodes of one level in an index range (LedgerTables.nodes_in_range)."""

    def nodes_in_range(self, level: int, first: int, last: int) -> dict[int, bytes]: ...


@dataclass(frozen=True)
class Tile:
    """Tile (level, index) of width hashes (TILE_WIDTH: a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The C2SP path below the log's prefix, e.g. ``tile/0/x001/234.p/5``."""
        return f"tile/{self.level}/{encode_index(self.index, self.width)}"


def encode_index(index: int, width: int = TILE_WIDTH) -> str:
    """N as 3-digit path elements, x-prefixed but the last, and ``.p/W`` if partial."""
    if index < 0 or not 1 <= width <= TILE_WIDTH:
        raise TileError(f"no tile of index {index} and width {width}")
    parts = [f"{index % 1000:03d}"]
    while index >= 1000:
        index //= 1000
        parts.append(f"x{index % 1000:03d}")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return "/".join(reversed(parts)) + suffix


def parse_index(path: str) -> tuple[int, int]:
    """(N, W) from ``x001/234/067`` or ``x001/234/067.p/5``; TileError if it is neither.

    Only the canonical spelling is accepted (three digits each, no leading x000), so
    every tile has exactly one path and an immutable response one cache key."""
    width = TILE_WIDTH
    partial = _PARTIAL.match(path)
    if partial is not None:
        path, width = partial["index"], int(partial["width"])
        if not 1 <= width < TILE_WIDTH or str(width) != partial["width"]:
            raise TileError(f"a partial tile has width 1..{TILE_WIDTH - 1}")
    if not _INDEX.match(path):
        raise TileError(f"not a tile index: {path[:80]!r}")
    index = 0
    for part in path.split("/"):
        index = index * 1000 + int(part.removeprefix("x"))
    if encode_index(index, width) != (path if width == TILE_WIDTH else f"{path}.p/{width}"):
        raise TileError(f"not the canonical spelling of tile index {index}")
    return index, width


def available_width(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) has in the tree of `size` leaves (0: none);
    level -1 stands for entry bundles, which follow the leaves (level 0)."""
    nodes = size >> (TILE_HEIGHT * max(level, 0))
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))


def exists(tile: Tile, size: int) -> bool:
    """Whether the tree of `size` leaves has this tile: a full tile once it is full, a
    partial one of width W once at least W of its nodes are (an older tree's partial
    tile stays valid, so a client checking an older checkpoint finds it)."""
    available = available_width(tile.level, tile.index, size)
    return tile.width == available if tile.full else 0 < tile.width <= available


def tile_hashes(tile: Tile, reader: NodeReader) -> bytes:
    """The tile's hashes, concatenated; the caller has checked that the tile `exists`.

    A node missing from storage is a broken store, never a short tile."""
    level, first = TILE_HEIGHT * tile.level, tile.index * TILE_WIDTH
    found = reader.nodes_in_range(level, first, first + tile.width - 1)
    try:
        hashes = [found[first + offset] for offset in range(tile.width)]
    except KeyError as missing:
        raise BrokenStore(f"Merkle node ({level}, {missing}) missing from storage") from None
    if not all(len(h) == HASH_SIZE for h in hashes):
        raise BrokenStore(f"a stored node of tile {tile.path()} is not a hash")
    return b"".join(hashes)


def entry_bundle(first_leaf: int, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> bytes:
    """Entries of leaves first_leaf.. as a C2SP entry bundle.

    Each entry must hash to its stored leaf: the bundle then cannot disagree with the
    level-0 tile served beside it."""
    if len(entries) != len(leaf_hashes):
        raise BrokenStore(f"{len(entries)} entries for {len(leaf_hashes)} leaves")
    out = bytearray()
    for offset, (entry, stored) in enumerate(zip(entries, leaf_hashes, strict=True)):
        if leaf_hash(entry) != stored:
            raise BrokenStore(f"entry {first_leaf + offset} does not hash to its stored leaf")
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise EntryTooLargeForBundle(first_leaf + offset, len(entry))
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def read_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle (the inverse of entry_bundle, for clients and tests)."""
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated entry length")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + length > len(data):
            raise ValueError("truncated entry")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries
