"""Header-first authentication, request body limits and structured access logs (never
bodies, tokens or file contents).

Why ASGI middleware and not FastAPI dependencies: FastAPI reads and parses a request's
whole body (a multipart upload spooled to disk, JSON into memory) *before* it runs the
route's dependencies, so no dependency can refuse a body before it has arrived. A
middleware runs on the request head alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.application.access import AccessDenied, acts_for_agency
from api.application.tokens import TokenError
from api.http import deps, errors, unavailable
from api.http.session import SAFE_METHODS
from domain import Actor
from ledger.errors import NotInitialised

log = logging.getLogger("inquiry_ledger.access")
api_log = logging.getLogger("inquiry_ledger.api")

Scope = dict[str, Any]

#: Requests that may send a body only if the caller may make them at all, by this rule
#: and refusal, checked before the body is read (the route checks again with the same
#: rule): an evidence upload is the one large body (up to the evidence limit).
MAY_SEND: dict[tuple[str, str], tuple[Callable[[Actor], bool], str]] = {
    ("POST", "/v1/evidence"): (acts_for_agency, "does not attach evidence"),
}


class HeaderAuth:
    """Authenticate every state-changing API request (any method but GET, HEAD and
    OPTIONS under the API's prefix) from its headers, before any of its body is read:
    the bearer token, or the browser's session cookie with its CSRF header, through the
    routes' own check (api/http/deps.py `authenticate`), run here on a request that has
    no body to read. A refusal (401, 403, or 503 if the database is down) is answered
    at once, in the documented shape, and closes the connection: the body is never
    read. Otherwise the request goes on with its caller in its scope, which the route's
    `caller` takes instead of authenticating it a second time (the route still applies
    its own rules to that caller).

    Without this, an upload without a token was read whole (up to 5 GiB, spooled to
    disk) before its 401. The pages (/web/*, /signin, /signout, /verify) are left to
    themselves: a page reads at most the small-body limit before it can refuse, which
    the sign-in form, open to anyone by nature, must accept from anyone anyway."""

    def __init__(self, app: Any, *, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        # The token store and the directory are read with blocking calls: a worker thread.
        refusal = await run_in_threadpool(_refusal, Request(scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        refusal.headers["Connection"] = "close"
        await refusal(scope, receive, send)


def _refusal(request: Request) -> Response | None:
    """Why the caller may not send this request, as the response; None if they may.
    `request` has no body: reading one would raise, never wait."""
    try:
        svc = deps.services(request)
        who = deps.authenticate(request, svc, request.headers.get("authorization"))
        rule = MAY_SEND.get((request.method, request.scope["path"]))
        if rule is not None and not rule[0](who):
            raise errors.Forbidden(f"{who.describe()} {rule[1]}")
    except TokenError as error:
        response = errors.error(401, "unauthenticated", str(error))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except AccessDenied as error:
        return errors.error(403, error.code, str(error))
    except NotInitialised as error:
        return errors.error(503, error.code, str(error))
    except unavailable.DATABASE_ERRORS as error:
        api_log.warning("event store unavailable: %s", type(error).__name__)
        return unavailable.unavailable("the event store (database) is unavailable; retry shortly")
    except Exception as error:  # the same answer as api/http/errors.py's catch-all
        api_log.error("unhandled %s", type(error).__name__)
        return errors.error(500, "internal_error", "the server could not complete the request")
    return None


class BodyLimit:
    """Refuse a body over its limit with 413, whether or not Content-Length is sent, and
    a body that arrives too slowly with 408: it has `timeout` seconds of grace and must
    then average `min_rate` bytes a second (so neither a stalled nor a trickling body
    holds a connection and a worker for long). Evidence uploads have their own (larger)
    limit, enforced by the evidence store while it streams; every other request body is
    small JSON or a form.

    The refusal is answered from here the moment a limit is crossed, and the connection
    closed; the app then sees the client as gone (``http.disconnect``), so it stops
    reading, and whatever it answers is dropped. Raising inside `receive` instead, as
    this did, reaches FastAPI's body parser, which turns any exception into its own
    "error parsing the body": a chunked body over the limit got that, not 413. Nor is a
    cut-off body ever handed to the app as if it had ended: it might parse."""

    def __init__(
        self,
        app: Any,
        *,
        limit: int,
        evidence_limit: int,
        evidence_prefix: str = "/v1/evidence",
        timeout: float = 30.0,
        min_rate: int = 4096,
    ) -> None:
        self.app = app
        self.limit = limit
        self.evidence_limit = evidence_limit
        self.evidence_prefix = evidence_prefix
        self.timeout = timeout
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.evidence_limit + 1024 * 1024
            if scope["path"].startswith(self.evidence_prefix)
            else self.limit
        )
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        started = time.monotonic()
        received = 0
        complete = False  # the whole body has arrived
        cut_off = False  # refused here: the app sees a disconnect
        answered = False  # the refusal was sent: the app's own response is dropped
        response_started = False

        async def refuse(status: int, code: str, detail: str) -> Any:
            nonlocal cut_off, answered
            cut_off = True
            if not response_started:
                answered = True
                await _refuse(send, status, code, detail)
            return {"type": "http.disconnect"}

        async def limited_receive() -> Any:
            nonlocal received, complete
            if cut_off:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()
            allowed = started + self.timeout + received / self.min_rate - time.monotonic()
            try:
                # Not asyncio.wait_for: before Python 3.12 it runs `receive()` as a task of
                # its own, one more task (and loop pass) per message (issue 18).
                async with asyncio.timeout(max(allowed, 0.0)):
                    message = await receive()
            except TimeoutError:
                return await refuse(
                    408,
                    "request_timeout",
                    f"the request body came too slowly (after {self.timeout:g} s, "
                    f"at least {self.min_rate} bytes a second)",
                )
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return await refuse(
                        413, "request_too_large", f"the request body is over {limit} bytes"
                    )
                complete = not message.get("more_body", False)
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal response_started
            if answered:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except ClientDisconnect:
            if not cut_off:
                raise


async def _too_large(send: Any, limit: int) -> None:
    await _refuse(send, 413, "request_too_large", f"the request body is over {limit} bytes")


async def _refuse(send: Any, status: int, code: str, detail: str) -> None:
    """The documented error shape, closing the connection: the rest of the body is
    never read (keeping the connection would mean reading it all, to find the next
    request)."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per request: method, path, status, caller, milliseconds."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            log.info(
                json.dumps(
                    {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "user": scope.get("state", {}).get("user_id"),
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                    }
                )
            )
