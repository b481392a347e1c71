"""Response headers for what the service serves as HTML, in one place for the pages and
the JSON API's HTML report (which cannot import each other), and the middleware that
makes sure no HTML response goes out without them."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders

#: The pages: their own scripts and styles only, never framed, no referrer off the site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: The progress report's HTML (`GET /v1/report`): a document, not an application. Its
#: styles are inline and it needs no script, so it may run none; never framed, and
#: never sniffed as anything else.
REPORT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

Scope = dict[str, Any]


class SecurityHeaders:
    """ASGI middleware: every response is sent with nosniff (so nothing is read as HTML
    that is not labelled so), and every HTML response with each of SECURITY_HEADERS it
    does not set itself. A response that sets its own policy (the report's, the API
    docs') keeps it; one that sets none (a route added later, an error page, a
    framework default) gets the pages' strictest instead of none at all."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").lower().startswith("text/html"):
                    for name, value in SECURITY_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
