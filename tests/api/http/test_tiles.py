"""The log as C2SP tlog-tiles (ledger/tiles.py, api/http/routes/tiles.py), held to a tree
computed here from the event store's entries alone: every hash of every tile is that
tree's node, the root rebuilt from the tiles is the checkpoint's, and the bundles are
the stored entries. Go's own tlog client reads the same tiles in tests/interop/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger import tiles
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import EMPTY_ROOT, leaf_hash, node_hash
from ledger.tiles import TILE_WIDTH, Tile
from tests.support.web import web_client
from tests.support.world import World

FULL = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH, straight from its recursive definition (no stored nodes)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def tree_leaves(world: World) -> list[bytes]:
    return [leaf_hash(entry) for _, entry in world.ledger.entries()]


def grow(world: World, size: int) -> None:
    client = world.client("council.officer")
    while world.ledger.tree_size() < size:
        client.comment("R1.1", f"comment {world.ledger.tree_size()}")
    assert world.ledger.tree_size() == size


def split(data: bytes) -> list[bytes]:
    assert len(data) % 32 == 0
    return [data[i : i + 32] for i in range(0, len(data), 32)]


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with web_client(world) as client:
        client.headers["Authorization"] = f"Bearer {client.tokens['scrutiny']}"
        yield client


# -- paths and sizes, without a server ----------------------------------------------------


def test_paths_are_c2sp_and_go_tlog_paths() -> None:
    assert tiles.encode_index(1234067) == "x001/x234/067"
    assert tiles.encode_index(0) == "000"
    assert tiles.encode_index(1000, 5) == "x001/000.p/5"
    assert Tile(1, 1234067, 5).path() == "tile/1/x001/x234/067.p/5"
    for index in (0, 1, 999, 1000, 1234067, 2**53):
        for width in (1, 255, 256):
            assert tiles.parse_index(tiles.encode_index(index, width)) == (index, width)
    for bad in ("1", "0001", "x000/001", "001.p/0", "001.p/256", "001.p/05", "x1/001", "", "a"):
        with pytest.raises(tiles.TileError):
            tiles.parse_index(bad)


class Nodes:
    """Every perfect subtree of a tree of leaves, as ledger_merkle_nodes holds them."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(a, b) for a, b in zip(below[::2], below[1::2], strict=False)]
            )

    def nodes_in_range(self, level: int, first: int, last: int) -> dict[int, bytes]:
        row = self.levels[level] if level < len(self.levels) else []
        return {i: row[i] for i in range(first, min(last + 1, len(row)))}


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 65_536 + 3])
def test_tiles_of_a_tree_are_its_nodes(size: int) -> None:
    """Which tiles a tree of each size has, and that they hold its nodes at level 8L:
    the level-1 tiles of a 65,539-leaf tree are the roots of its 256-leaf ranges."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    nodes = Nodes(leaves)
    for level in range(3):
        count, span = size >> (8 * level), 1 << (8 * level)
        for n in range(-(-count // TILE_WIDTH) + 1):  # and the first tile beyond
            width = max(0, min(TILE_WIDTH, count - n * TILE_WIDTH))
            assert tiles.available_width(level, n, size) == width
            assert tiles.exists(Tile(level, n), size) == (width == TILE_WIDTH)
            if width == 0:
                assert not tiles.exists(Tile(level, n, 1), size)
                continue
            tile = Tile(level, n, width)
            assert tiles.exists(tile, size) and not tiles.exists(Tile(level, n, width + 1), size)
            first = n * TILE_WIDTH
            expected = [
                mth(leaves[(first + i) * span : (first + i + 1) * span]) for i in range(width)
            ]
            assert split(tiles.tile_hashes(tile, nodes)) == expected
    assert tiles.available_width(0, 0, size) == min(size, TILE_WIDTH)


def test_bundles_round_trip_and_refuse_what_a_uint16_cannot_say() -> None:
    entries = [b"", b"a", b"x" * 0xFFFF]
    bundle = tiles.entry_bundle(7, entries, [leaf_hash(e) for e in entries])
    assert tiles.read_bundle(bundle) == entries
    with pytest.raises(tiles.EntryTooLargeForBundle, match="entry 8 is 65536 bytes"):
        big = [b"a", b"x" * 0x10000]
        tiles.entry_bundle(7, big, [leaf_hash(e) for e in big])
    with pytest.raises(tiles.BrokenStore, match="does not hash"):
        tiles.entry_bundle(0, [b"a"], [leaf_hash(b"b")])


# -- the service ----------------------------------------------------------------------------


def check_tiles(world: World, http: Any) -> None:
    """Every tile and bundle of the tree as it is now, against the tree computed here."""
    checkpoint = Checkpoint.verify(http.get("/tlog/checkpoint").text, world.vkey)
    size = world.ledger.tree_size()
    assert checkpoint.size == size
    entries = [entry for _, entry in world.ledger.entries()]
    leaves = [leaf_hash(e) for e in entries]
    from_tiles: dict[int, list[bytes]] = {}
    for level in range(3):
        count = size >> (8 * level)
        for n in range(-(-count // TILE_WIDTH)):
            tile = Tile(level, n, min(TILE_WIDTH, count - n * TILE_WIDTH))
            response = http.get(f"/tlog/{tile.path()}")
            assert response.status_code == 200, tile
            assert response.headers["cache-control"] == (FULL if tile.full else PARTIAL)
            from_tiles.setdefault(level, []).extend(split(response.content))
            if level == 0:
                bundle = http.get(f"/tlog/tile/entries/{tiles.encode_index(n, tile.width)}")
                assert bundle.status_code == 200
                first = n * TILE_WIDTH
                assert tiles.read_bundle(bundle.content) == entries[first : first + tile.width]
                assert bundle.headers["cache-control"].startswith("private, ")
        # Beyond the last tile of the level: nothing.
        assert (
            http.get(f"/tlog/tile/{level}/{tiles.encode_index(-(-count // 256))}").status_code
            == 404
        )
    assert from_tiles[0] == leaves
    for i, node in enumerate(from_tiles.get(1, [])):  # level 8: each a 256-leaf range's root
        assert node == mth(leaves[i * 256 : (i + 1) * 256])
    assert mth(from_tiles[0]) == checkpoint.root_hash == mth(leaves)


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
def test_every_tile_at_each_size_is_the_trees(world: World, http: Any) -> None:
    """255, 256 and 257 leaves (a level-0 tile just short, just full, one over), then
    3 * 256 + 2, whose level-1 tile is partial, of width 3."""
    for size in (255, 256, 257, 3 * 256 + 2):
        grow(world, size)
        world.checkpoint()
        check_tiles(world, http)


def test_beyond_the_tree_and_malformed_paths_are_404(world: World, http: Any) -> None:
    grow(world, 20)
    world.checkpoint()
    assert http.get("/tlog/tile/0/000").status_code == 404  # not full yet
    assert http.get("/tlog/tile/0/000.p/21").status_code == 404
    assert http.get("/tlog/tile/entries/000.p/21").status_code == 404
    assert http.get("/tlog/tile/1/000.p/1").status_code == 404
    older = http.get("/tlog/tile/0/000.p/7")  # an older tree's partial tile still is
    assert older.status_code == 200 and split(older.content) == tree_leaves(world)[:7]
    for bad in ("0/0", "0/x000/000.p/5", "0/000.p/0", "0/000.p/256", "64/000.p/1", "x/000"):
        assert http.get(f"/tlog/tile/{bad}").status_code in (404, 422), bad
    assert http.get("/tlog/tile/0/x000/000.p/5").json()["error"] == "no_such_tile"


def test_a_token_is_needed_and_bundles_are_the_auditors(world: World, http: Any) -> None:
    grow(world, 20)
    world.checkpoint()
    bare = TestClient(http.app)
    assert bare.get("/tlog/checkpoint").status_code == 401
    assert bare.get("/tlog/tile/0/000.p/20").status_code == 401
    officer = {"Authorization": f"Bearer {http.tokens['council.officer']}"}
    assert http.get("/tlog/checkpoint", headers=officer).headers["cache-control"] == (
        "public, max-age=5"
    )
    assert http.get("/tlog/tile/0/000.p/20", headers=officer).status_code == 200
    assert http.get("/tlog/tile/entries/000.p/20", headers=officer).status_code == 403


def test_an_entry_too_long_for_a_bundle_is_refused_not_cut(world: World, http: Any) -> None:
    """A uint16 cannot say its length: that bundle answers 501, naming the entry and
    where to read it; its hash tile, and every other bundle, are served as ever."""
    grow(world, 300)
    world.client("council.officer").comment("R1.1", "\U0001f600" * 20_000)
    big = world.ledger.tree_size() - 1
    assert len(dict(world.ledger.leaf_entries(big, big + 1))[big]) > 0xFFFF
    width = world.ledger.tree_size() - 256
    response = http.get(f"/tlog/tile/entries/001.p/{width}")
    assert response.status_code == 501
    assert response.json()["error"] == "entry_too_large_for_bundle"
    assert f"entry {big} is" in response.json()["detail"]
    assert http.get(f"/tlog/tile/entries/001.p/{width - 1}").status_code == 200
    assert http.get("/tlog/tile/entries/000").status_code == 200
    assert http.get(f"/tlog/tile/0/001.p/{width}").status_code == 200


def test_an_older_checkpoint_is_proven_by_the_partial_tiles_of_its_size(
    world: World, http: Any
) -> None:
    """The genesis checkpoint (one leaf) is the first hash of tile 0/000.p/1, still
    served however far the log has grown: a monitor checks an old checkpoint too."""
    first = world.ledger.tables.checkpoints()[0]
    assert first.tree_size == 1
    grow(world, 300)
    assert http.get("/tlog/tile/0/000.p/1").content == first.root_hash
