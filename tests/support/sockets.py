"""Raw HTTP/1.1 over sockets against a real server: what a hostile client does (a huge
declared body, a chunked one, idle or slow connections), which an HTTP client library
would not let a test do."""

from __future__ import annotations

import json
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.application.tokens import TokenStore
from ledger.config import LedgerConfig
from tests.support.server import running_server
from tests.support.world import World, make_world

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass
class Site:
    """A small ledger (tests/support/world.py, on SQLite, real time) and a token per
    user, for a server started on its home folder."""

    world: World
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {"INQUIRY_LEDGER_HOME": str(self.world.config.home)}

    @contextmanager
    def serving(self, **settings: str) -> Iterator[str]:
        """The server's URL, with these INQUIRY_LEDGER_* settings (names without it)."""
        extra = {f"INQUIRY_LEDGER_{name.upper()}": value for name, value in settings.items()}
        with running_server({**self.env, **extra}) as url:
            yield url


def make_site(tmp_path: Path) -> Site:
    world = make_world(LedgerConfig(home=tmp_path / "home"), lambda: datetime.now(UTC))
    world.add_action("R1.1")
    store = TokenStore(world.ledger.tables)
    site = Site(world, {user: store.create(user, timedelta(hours=1)) for user in world.keys})
    return site


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(address(url), timeout=timeout)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_some(sock: socket.socket, total: int, chunk: bytes = b"x" * 65536) -> int:
    """Send up to `total` bytes; stop early (returning what was sent) if the server has
    closed the connection or stopped reading for a second."""
    sent = 0
    previous = sock.gettimeout()
    sock.settimeout(1.0)
    try:
        while sent < total:
            sent += sock.send(chunk[: total - sent])
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.settimeout(previous)
    return sent


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket, timeout: float) -> Answer:
    """One response with a Content-Length (what the server's refusals carry), read within
    `timeout` seconds; TimeoutError if it does not come."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock, deadline)
    top, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        rest += _recv(sock, deadline)
    return Answer(int(status_line.split()[1]), headers, rest[:length])


def _recv(sock: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("no complete response in time")
    sock.settimeout(remaining)
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection without a complete response")
    return chunk


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """How long until the server closes this connection (EOF or reset), reading and
    dropping whatever it sends; None if it is still open after `seconds`."""
    started = time.monotonic()
    deadline = started + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            return None
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def open_files_at_least(needed: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to `needed` (a child inherits it); skip
    the test, saying so, if the hard limit is below that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files; this machine's hard RLIMIT_NOFILE is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@contextmanager
def open_files_limit(soft: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE lowered to `soft` for the block: a server started
    inside it begins with that limit (a common default is 1024; 256 on some systems)."""
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))
