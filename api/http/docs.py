"""The interactive API docs (Swagger UI at ``/docs``), served from this origin alone.

Why not FastAPI's defaults: they load swagger-ui-dist@5 and redoc@2 from a CDN, at
floating versions and with no integrity check, into a page on the service's own
origin, where any script can read the browser's IndexedDB signing keys and use the
session cookie. So the Swagger UI files come from a pinned Python package
(swagger-ui-bundle-v2, pyproject.toml; the tests check its files are upstream's
swagger-ui-dist release), only the three the page needs, and the page is sent under a
Content-Security-Policy that lets it load nothing from anywhere else (connect-src
'self': it reads /openapi.json and tries requests on this origin only). The one inline
script (FastAPI's Swagger UI initialisation) is allowed by its SHA-256, computed from
the exact HTML at startup, not by 'unsafe-inline'. ReDoc is not served: one UI is
enough, and ReDoc injects its styles inline, which a strict policy forbids.

INQUIRY_LEDGER_API_DOCS=off turns the docs off (``/docs`` is then a 404 in the errors'
shape); ``/openapi.json`` stays, as the CLI and clients read it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # no py.typed

from ledger.config import ConfigError

DOCS_ENV = "INQUIRY_LEDGER_API_DOCS"
DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
#: The bundle's files the page loads; nothing else in its folder is served (its own
#: index.html would fetch the Petstore example from another site).
ASSET_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """On unless INQUIRY_LEDGER_API_DOCS is "off"; any value but on/off is refused, so a
    typo cannot leave the docs on by mistake."""
    env = os.environ if environ is None else environ
    value = (env.get(DOCS_ENV) or "on").strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{DOCS_ENV} must be on or off, not {value!r}")
    return value == "on"


class _Assets(StaticFiles):
    """The bundle's folder, limited to ASSET_FILES (anything else: 404)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path not in ASSET_FILES:
            return "", None
        return super().lookup_path(path)


def docs_page(title: str, openapi_url: str) -> tuple[bytes, dict[str, str]]:
    """The Swagger UI page and its headers (its Content-Security-Policy names the hash of
    the page's one inline script)."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} — API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        oauth2_redirect_url=None,  # bearer tokens only: no OAuth2 redirect page
        # No badge from validator.swagger.io (it would send the schema's URL there).
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body)
    scripts = INLINE_SCRIPT.findall(html.decode())
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    )
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    return html, {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


def install(app: FastAPI, enabled: bool | None = None) -> None:
    """Serve the docs page and its assets on `app` (created with docs_url=None and
    redoc_url=None), unless the docs are off (`enabled`, else INQUIRY_LEDGER_API_DOCS)."""
    if not (docs_enabled() if enabled is None else enabled):
        return
    assert app.openapi_url is not None
    html, headers = docs_page(app.title, app.openapi_url)
    app.mount(ASSETS_URL, _Assets(directory=Path(str(swagger_ui_path))), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)
