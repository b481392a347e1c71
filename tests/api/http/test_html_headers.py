"""Every HTML response the app can send carries the security headers (issue 17): a
Content-Security-Policy that forbids framing, nosniff, X-Frame-Options DENY and a
same-origin Referrer-Policy, whichever route built it (a page, an error page, the API
docs, the HTML report) and whoever asks (nobody, a bearer token, a signed-in browser).

The GET routes are read from the app itself, so a route added later is visited too;
each is called with real path values, so the pages answer with their content, not only
with a redirect to sign in. Then the error pages, the HTML that POSTs answer with, and a
route that returns bare HTML with no header of its own (the middleware's job).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.http.app import create_app
from domain import Status, action_aggregate_id
from tests.support.web import sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    monkeypatch.delenv("INQUIRY_LEDGER_API_DOCS", raising=False)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    w.sha256 = w.evidence("R1.1", b"headers evidence")  # type: ignore[attr-defined]
    w.checkpoint()
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with web_client(world) as client:
        yield client


def assert_secured(response: Any, what: str) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, (what, policy)
    assert "default-src" in policy, (what, policy)
    assert "'unsafe-eval'" not in policy, (what, policy)
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("referrer-policy") == "same-origin", what


def is_html(response: Any) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/html")


def get_urls(app: Any, world: World) -> list[str]:
    """One URL for every GET route and mount of the app, its path parameters filled in
    with values the ledger holds (a parameter with no value here fails the test)."""
    values = {
        "action_id": "R1.1",
        "number": "1",
        "sha256": world.sha256,  # type: ignore[attr-defined]
        "tree_size": str(world.ledger.tree_size()),
        "leaf_index": "0",
        "aggregate_id": str(action_aggregate_id("R1.1")),
        "level": "0",  # the log's tiles (C2SP tlog-tiles): level 0, tile 000, partial
        "index": "000.p/1",
        "agency": "council",  # the public tracker's agency pages
        "session_id": "none-held",  # the minutes: a JSON 404 here (HTML: test_session_http)
        "challenge_id": "C9",  # a 404 page here (a thread: test_challenge_pages)
    }
    queries = {
        "/v1/report": "?as_of=2030-01-01&format=html",
        "/as-of": "?date=2023-01-03",
        "/diff": "?start=2023-01-01&end=2023-01-03",
    }
    mounts = {"/static": "/static/app.css", "/docs/assets": "/docs/assets/swagger-ui.css"}
    urls = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            urls.append(mounts[route.path])
            continue
        if "GET" not in (route.methods or ()):
            continue
        path = route.path
        for name in route.original_route.param_convertors:
            assert name in values, f"no value for {{{name}}} in {path}: add one"
            path = re.sub(rf"\{{{name}(:[^}}]*)?\}}", values[name], path)
        urls.append(path + queries.get(route.path, ""))
    return urls


def test_every_html_response_of_every_get_route_is_secured(http: Any, world: World) -> None:
    urls = get_urls(http.app, world)
    html: set[str] = set()
    callers = {
        "nobody": {},
        "chair's token": {"Authorization": f"Bearer {http.tokens['chair']}"},
        "police officer's token": {"Authorization": f"Bearer {http.tokens['police.officer']}"},
    }
    for caller, headers in callers.items():
        http.cookies.clear()
        for url in urls:
            response = http.get(url, headers=headers, follow_redirects=False)
            assert response.status_code < 500, (caller, url, response.text)
            assert response.headers.get("x-content-type-options") == "nosniff", (caller, url)
            if is_html(response):
                assert_secured(response, f"{caller}: GET {url}")
                html.add(url.split("?")[0])
    for user in ("chair", "council.officer", "police.officer"):
        sign_in(http, user)
        for url in urls:
            response = http.get(url, follow_redirects=False)
            assert response.status_code < 500, (user, url, response.text)
            if is_html(response):
                assert_secured(response, f"{user}'s session: GET {url}")
                html.add(url.split("?")[0])
    # Not vacuous: the pages, the docs and the report were all seen as HTML.
    expected = {"/", "/signin", "/keys", "/verify", "/as-of", "/diff", "/docs", "/v1/report"}
    assert expected | {"/actions/R1.1", "/recommendations/1"} <= html, html


def test_error_pages_and_html_answers_to_posts_are_secured(http: Any) -> None:
    anonymous = [
        http.get("/signin"),
        http.post("/signin", data={"token": "il_nope", "csrf": "x"}, follow_redirects=False),
    ]
    csrf = sign_in(http, "police.officer")
    signed_in = [
        http.get("/actions/R9.9"),  # no such action: the 404 page
        http.get("/recommendations/99"),
        http.get("/actions/R1.1"),  # another agency's action: refused, as a page
        http.get("/verify"),  # for auditors only
        http.get("/as-of?date=not-a-date"),
        http.post("/verify", data={"csrf": csrf}),
    ]
    pages = [r for r in anonymous + signed_in if is_html(r)]
    assert len(pages) >= 7
    assert {r.status_code for r in pages} >= {200, 403, 404}
    for response in pages:
        assert_secured(response, f"{response.request.method} {response.request.url}")


def test_html_from_a_route_that_sets_no_header_is_secured_all_the_same(world: World) -> None:
    """The middleware, not each route, is what guarantees the headers: bare HTML from a
    route that knows nothing of them goes out with the pages' policy."""
    app = create_app(world.config, world.ledger)

    @app.get("/bare")
    def bare() -> HTMLResponse:
        return HTMLResponse("<p>no headers of its own</p>")

    response = TestClient(app).get("/bare")
    assert response.status_code == 200 and is_html(response)
    assert_secured(response, "GET /bare")
    assert "script-src 'self'" in response.headers["content-security-policy"]
