"""Response headers for what the service serves as HTML, in one place for the pages and
the JSON API's HTML report (which cannot import each other)."""

from __future__ import annotations

#: The pages: their own scripts and styles only, never framed, no referrer off the site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
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
    "Referrer-Policy": "same-origin",
}
