"""Request size limits and structured access logs (never bodies, tokens or file contents)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger("inquiry_ledger.access")

Scope = dict[str, Any]


class BodyLimit:
    """Refuse bodies over a limit with 413, whether or not Content-Length is sent.

    Evidence uploads have their own (larger) limit, enforced by the evidence store while
    it streams; every other request body is small JSON."""

    def __init__(
        self, app: Any, *, limit: int, evidence_limit: int, evidence_prefix: str = "/v1/evidence"
    ) -> None:
        self.app = app
        self.limit = limit
        self.evidence_limit = evidence_limit
        self.evidence_prefix = evidence_prefix

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
        received = 0
        too_large = False

        async def counting_receive() -> Any:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        {"error": "request_too_large", "detail": f"the request body is over {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
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
