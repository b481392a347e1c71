"""Connections: how long a client may take, how big a request head may be, and how many
connections may be open at once (issue 17, denial of service).

uvicorn on its own times out only the gap after a response (``timeout_keep_alive``): a
connection that never sends a request, or sends its head a byte at a time, stays open
for ever, and each holds a file descriptor. 300 of them exhausted a 256-descriptor limit,
and then the server accepted no one. httptools also buffers a request head of any size.
So `serve` runs uvicorn with `GuardedHttp`, its httptools protocol with these bounds
(`ServerLimits`, from INQUIRY_LEDGER_* settings):

- A connection must complete each request head within ``header_timeout`` seconds of
  opening or of its previous response; bytes arriving do not extend it (a head sent a
  byte at a time is cut off as surely as a silent connection). Closed silently.
- A request head over `MAX_HEAD_BYTES` gets 431 and the connection is closed.
- A client that takes nothing of a response for ``body_timeout`` seconds (the server's
  write buffer full all that time) is disconnected. Request bodies are bounded where
  the app reads them: api/http/middleware.py (`BodyLimit`: 413, 408).
- At most ``max_connections`` open at once, and never more than the descriptors allow
  (`connection_cap`, after `raise_open_files_limit`). At the cap a new connection closes
  the longest-idle one (no request in progress: between requests, or still sending its
  head); only if every connection is busy with a request is it refused (503).

Why not uvicorn's ``limit_concurrency``: it answers 503 to each *request* once open
connections reach the limit, idle ones included, so idle connections (the attack) would
be exactly what refuses the real requests; and it still accepts the connection, so it
does not bound descriptors either. Idle connections making way keeps a flood of them
from starving clients that are sending requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ledger.config import ConfigError

log = logging.getLogger("inquiry_ledger.connections")

#: A request head (request line and headers) larger than this is refused with 431: ours
#: are a few hundred bytes; 64 KiB leaves room for any proxy's or browser's headers.
MAX_HEAD_BYTES = 64 * 1024
#: Descriptors kept for the rest of the server, whatever the cap: the database pool (up
#: to 40), temporary upload files, evidence files, S3 and witness connections, logs.
RESERVED_FILES = 256


@dataclass(frozen=True)
class ServerLimits:
    """The bounds `serve` enforces on clients; the defaults suit a service that a few
    hundred people use directly or behind a reverse proxy."""

    #: Seconds to send a complete request head, from connecting or the previous response.
    header_timeout: float = 10.0
    #: Seconds of grace for a request body, which must then keep up `body_min_rate` on
    #: average; also how long a client may take nothing of a response.
    body_timeout: float = 30.0
    #: Bytes a second a request body must average after the grace (32 kbit/s: any real
    #: link; a 1 MiB JSON body may take 30 s + 256 s, a 100 MiB file about 7 hours).
    body_min_rate: int = 4096
    #: Open connections at most (fewer if the descriptor limit is lower).
    max_connections: int = 1024

    def describe(self) -> str:
        return (
            f"request heads within {self.header_timeout:g} s, bodies {self.body_timeout:g} s "
            f"then {self.body_min_rate} bytes/s, responses taken within {self.body_timeout:g} s"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerLimits:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            header_timeout=_number(env, "HEADER_TIMEOUT", default.header_timeout, 3600),
            body_timeout=_number(env, "BODY_TIMEOUT", default.body_timeout, 3600),
            body_min_rate=int(_number(env, "BODY_MIN_RATE", default.body_min_rate, 2**40)),
            max_connections=int(
                _number(env, "MAX_CONNECTIONS", default.max_connections, 1_000_000)
            ),
        )


def _number(env: Mapping[str, str], name: str, default: float, most: float) -> float:
    """INQUIRY_LEDGER_<name>: a positive number up to `most` (unset or empty: default)."""
    variable = f"INQUIRY_LEDGER_{name}"
    text = env.get(variable) or ""
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{variable} must be a number, not {text[:40]!r}") from None
    if not 0 < value <= most:
        raise ConfigError(f"{variable} must be above 0 and at most {most:g}")
    return value


def raise_open_files_limit() -> int | None:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (a soft limit of 1024,
    or 256, is a common default and far below what a server needs); the soft limit now
    in force, or None where there are no such limits."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return None if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def connection_cap(configured: int, open_files: int | None) -> int:
    """How many connections to allow: the setting, less if the descriptors left after
    `RESERVED_FILES` (or half of them, when there are few) would not cover it."""
    if open_files is None:
        return configured
    reserve = min(RESERVED_FILES, open_files // 2)
    return max(1, min(configured, open_files - reserve))


def _raw_response(status: str, code: str, detail: str, *extra: str) -> bytes:
    """A whole HTTP response in the documented error shape, written before (or without)
    a request: there is no app to answer for the protocol."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = [
        f"HTTP/1.1 {status}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


BUSY = _raw_response(
    "503 Service Unavailable",
    "unavailable",
    "the server has as many connections as it takes; retry shortly",
    "retry-after: 2",
)
HEAD_TOO_LARGE = _raw_response(
    "431 Request Header Fields Too Large",
    "request_head_too_large",
    f"the request line and headers are over {MAX_HEAD_BYTES} bytes",
)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of `ServerLimits` (see the module).
    uvicorn makes one per connection; `protocol_for` binds the limits to a subclass."""

    limits: ClassVar[ServerLimits] = ServerLimits()
    cap: ClassVar[int] = ServerLimits.max_connections
    _last_warning: ClassVar[float] = 0.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        #: When the connection last became idle (no request in progress); None: busy.
        self.idle_since: float | None = None
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.cap and not self._make_room():
            self._refused = True
            self.transport = transport
            self._warn(f"refused a connection: all {self.cap} connections are busy")
            transport.write(BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self._idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        waiting_for_head = self.idle_since is not None
        super().data_received(data)
        if waiting_for_head and self.idle_since is not None:  # still no complete head
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self.transport.write(HEAD_TOO_LARGE)
                self.transport.close()

    # -- requests ----------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self.idle_since = None
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle again unless a pipelined request has already started.
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._idle()

    def _idle(self) -> None:
        self.idle_since = time.monotonic()
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        if self.idle_since is not None and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> bool:
        """Below the cap once those already closing are gone, or close the longest-idle
        open connection; False if every open one is busy with a request."""
        live = [c for c in self.connections if not c.transport.is_closing()]
        if len(live) < self.cap:
            return True
        idle = [c for c in live if isinstance(c, GuardedHttp) and c.idle_since is not None]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since or 0.0)
        oldest.transport.close()
        self._warn(f"at {self.cap} connections: closing the longest-idle ones to make room")
        return True

    # -- a client that does not read ------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.body_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _stalled(self) -> None:
        # abort, not close: close would wait for the client to take the buffered bytes.
        self._write_timer = None
        self.transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._write_timer = None

    @classmethod
    def _warn(cls, message: str) -> None:
        """At most one warning every 10 s: under a flood each connection would log one."""
        now = time.monotonic()
        if now - GuardedHttp._last_warning >= 10:
            GuardedHttp._last_warning = now
            log.warning(message)


def protocol_for(limits: ServerLimits, open_files: int | None) -> type[GuardedHttp]:
    """`GuardedHttp` bound to these limits and the cap the descriptors allow, for
    ``uvicorn.run(http=...)``."""
    bound_limits, bound_cap = limits, connection_cap(limits.max_connections, open_files)

    class Bound(GuardedHttp):
        limits = bound_limits
        cap = bound_cap

    return Bound
