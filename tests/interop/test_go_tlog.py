"""Go's tlog client, which nobody here wrote, checks our tiles (tests/interop/tilecheck.go).

golang.org/x/mod/sumdb/note opens the checkpoint with the log's verifier key, and
golang.org/x/mod/sumdb/tlog reads the hash tiles from a real `inquiry-ledger serve` with
a TileHashReader, recomputes the root and proves leaves against the entries read from
their bundles. A stored node flipped in the database must make it fail: it notices.

Built offline from Debian's golang-golang-x-mod-dev (GOPATH mode). Without `go` the test
is skipped, except in CI (CI set), where .ci/run installs it and a skip would hide a
broken interop: there it fails.
"""

from __future__ import annotations

import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api.application.tokens import TokenStore
from tests.support.go import build_go
from tests.support.server import running_server
from tests.support.world import World

HERE = Path(__file__).resolve().parent
#: Three level-0 tiles (the last partial) and a partial level-1 tile of width 3.
SIZE = 3 * 256 + 5


@pytest.fixture(scope="module")
def tilecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("go") / "tilecheck"
    return build_go(HERE / "tilecheck.go", out, needs="golang.org/x/mod/sumdb/tlog")


def flip(world: World, level: int, index: int) -> None:
    """Flip the first byte of stored node (level, index), as a tampering operator would."""
    tables = world.ledger.tables
    (stored,) = tables.read_hashes([(level, index)])
    with tables.transaction() as cursor:
        cursor.execute(
            tables.sql("UPDATE ledger_merkle_nodes SET hash=? WHERE level=? AND idx=?"),
            (bytes([stored[0] ^ 1]) + stored[1:], level, index),
        )


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
def test_go_tlog_verifies_our_tiles_and_catches_a_tampered_one(
    world: World, tilecheck: Path
) -> None:
    client = world.client("council.officer")
    while world.ledger.tree_size() < SIZE:
        client.comment("R1.1", f"comment {world.ledger.tree_size()}")
    world.checkpoint()
    # The server runs on the real clock, not the world's; scrutiny is an auditor.
    token = TokenStore(world.ledger.tables).create(
        "scrutiny", timedelta(hours=1), now=datetime.now(UTC)
    )
    env = {"INQUIRY_LEDGER_HOME": str(world.config.home), "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0"}

    leaves = f"0,1,255,256,511,512,{SIZE // 2},{SIZE - 1}"

    def check(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(tilecheck),
                "-url",
                url,
                "-token",
                token,
                "-vkey",
                world.vkey.encode(),
                "-leaves",
                leaves,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    with running_server(env) as url:
        honest = check(url)
        assert honest.returncode == 0, honest.stderr
        assert f"ok: tree {SIZE}," in honest.stdout
        flip(world, 8, 1)  # in tile 1/000.p/3: the root from tiles is not the checkpoint's
        tampered = check(url)
        assert tampered.returncode == 1, tampered.stdout
        assert "tree hash from tiles" in tampered.stderr
        flip(world, 8, 1)  # put back: honest again
        assert check(url).returncode == 0
        # A leaf hash flipped in the store: the server itself refuses that range's bundle
        # (its entries no longer hash to the leaves: 500), so Go is never handed both.
        flip(world, 0, 1)
        tampered = check(url)
        assert tampered.returncode == 1, tampered.stdout
        assert "entry 0: GET tlog/tile/entries/000: 500" in tampered.stderr
        flip(world, 0, 1)
        # The same leaf flipped in transit, with the store intact: Go's proof of leaf 0
        # from tiles, checked against the checkpoint, fails.
        with tampering_proxy(url, "/tlog/tile/0/000", offset=32) as proxy:
            assert check(proxy).returncode == 1
            assert "leaf 0: invalid transparency proof" in check(proxy).stderr
        assert check(url).returncode == 0


@contextmanager
def tampering_proxy(upstream: str, path: str, *, offset: int) -> Iterator[str]:
    """A loopback HTTP proxy to `upstream` that flips byte `offset` of `path`'s body."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {"Authorization": self.headers.get("Authorization", "")}
            request = urllib.request.Request(upstream + self.path, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, body = response.status, bytearray(response.read())
            except urllib.error.HTTPError as error:
                status, body = error.code, bytearray(error.read())
            if self.path == path and status == 200:
                body[offset] ^= 1
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
