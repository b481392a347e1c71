"""Every role, every route, own and other agency: against the README's table.

The README's "Who reads and writes what" table is the contract; this test asks the
running service (the real app on the world's ledger) each cell's question and compares:
a request on the council's items and one on the police's, as each role and with no
token. A route the service has and the table lacks (or the reverse) fails too, so a new
endpoint cannot ship without its row.

How a cell is read: `—` when both requests are refused (401, 403, or a page's redirect
to sign in); `own` when only the council's answer carries the council's marker and the
police's is refused or carries no police marker; `all` when both answer with their
marker. For routes about no agency (the checkpoint, one's own keys) both requests are
the same and the marker is the answer itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from api.http.app import create_app
from domain import action_aggregate_id
from domain.session import session_aggregate_id
from ledger.keys import KeyPair
from tests.support.access_tables import (
    SIGNING_ROLES,
    authority_rows,
    readme_table,
)
from tests.support.web import field, require_off_page, web_client
from tests.support.world import World, clear_store_settings, make_world

#: Who plays each column: officers and leads of the council ("own" is the council's).
PLAYERS = {
    "officer": "council.officer",
    "agency_lead": "council.lead",
    "implementation_group": "sig",
    "scrutiny": "scrutiny",
    "lived_experience": "consultee",
    "chair": "chair",
    "admin": "admin",
    "no token": None,
}
AGENCIES = ("council", "police")
ACTION_OF = {"council": "R1.1", "police": "R1.2"}
CHALLENGE_OF = {"council": "C1", "police": "C2"}
#: A session of the implementation group (domain/session.py), whose minutes auditors read.
SESSION = {
    "session_id": "sig-1", "body": "SIG", "date": "2023-03-13", "started_at": "10:00",
    "ended_at": "12:00", "chair": "scrutiny", "recommendations": [1],
    "attendees": [{"role": "Chair of the implementation group", "label": "Chair"}],
}  # fmt: skip
#: Routes outside the table: the OpenAPI document and the API docs (public by design,
#: served by the framework), and static assets.
OUTSIDE = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}


@dataclass
class Probe:
    """One cell's question: `ask(agency)` sends the request about that agency's item and
    returns the response; `marker(agency)` is what an answer about it must contain."""

    ask: Callable[[str], Any]
    marker: Callable[[str], str]
    listing: bool = False  # one request whose answer lists both agencies' items


@pytest.fixture
def matrix_world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    world = make_world(config, clock)
    world.add_action("R1.1", "council")
    world.add_action("R1.2", "police")
    world.keys["consultee"] = KeyPair.generate()
    world.client("chair").register_user(
        "consultee", "Consultee", "lived_experience", None, world.keys["consultee"].public_key
    )
    for agency, action_id in ACTION_OF.items():
        world.client(f"{agency}.officer").comment(action_id, f"said-by-{agency}")
        world.evidence(action_id, f"{agency} evidence".encode(), by=f"{agency}.officer")
    for agency, challenge_id in CHALLENGE_OF.items():  # scrutiny asks each agency
        subject = ACTION_OF[agency]
        world.client("scrutiny").raise_challenge(
            challenge_id, subject, agency, f"asked-of-{agency}"
        )
    world.client("sig").submit("session.held", session_aggregate_id("sig-1"), SESSION)
    council_file = _blob_of(world, "R1.1")
    world.client("council.lead").publish_evidence("R1.1", council_file, "May be published")
    world.checkpoint()
    require_off_page(
        monkeypatch, world, ["chair"]
    )  # the charter's default: the chair signs at home
    yield world
    world.ledger.close()


class Service:
    """The app under test, with a token and a page session per player."""

    def __init__(self, world: World, http: Any) -> None:
        self.world, self.http = world, http
        self.sha = {agency: _blob_of(world, action_id) for agency, action_id in ACTION_OF.items()}
        self.csrf: dict[str, str] = {}

    def api(self, player: str | None, method: str, path: str, **kwargs: Any) -> Any:
        self.http.cookies.clear()
        headers = {"Authorization": f"Bearer {self.http.tokens[player]}"} if player else {}
        return self.http.request(method, path, headers=headers, follow_redirects=False, **kwargs)

    def page(self, player: str | None, method: str, path: str, **kwargs: Any) -> Any:
        self.http.cookies.clear()
        if player is None:
            return self.http.request(method, path, follow_redirects=False, **kwargs)
        token = self.http.tokens[player]
        nonce = field(self.http.get("/signin").text, r'name="csrf" value="([^"]+)"')
        self.http.post("/signin", data={"token": token, "csrf": nonce}, follow_redirects=False)
        csrf = field(self.http.get("/").text, r'<meta name="csrf-token" content="([^"]+)"')
        if method == "POST" and "json" in kwargs:
            kwargs.setdefault("headers", {})["X-CSRF-Token"] = csrf
        elif method == "POST":
            kwargs["data"] = {**kwargs.get("data", {}), "csrf": csrf}
        return self.http.request(method, path, follow_redirects=False, **kwargs)

    def key_id(self, player: str | None) -> str:
        if player is None:
            return "none"
        user = self.world.ledger.require_directory().users[player]
        return user.active_keys()[0].key_id

    def sign_in(self, player: str | None) -> Any:
        """Post the player's token (a made-up one without a token) to the sign-in form."""
        self.http.cookies.clear()
        nonce = field(self.http.get("/signin").text, r'name="csrf" value="([^"]+)"')
        token = self.http.tokens[player] if player else "il_nobody_nothing"
        return self.http.post(
            "/signin", data={"token": token, "csrf": nonce}, follow_redirects=False
        )

    def sign_out(self, player: str | None) -> Any:
        """Sign out; answered when the session is then gone (the dashboard asks to sign in)."""
        response = self.page(player, "POST", "/signout")
        after = self.http.get("/", follow_redirects=False)
        if player is None or refused(after) is False:
            return response
        return SimpleNamespace(status_code=200, headers={}, text="signed out")


def _blob_of(world: World, action_id: str) -> str:
    action = world.ledger.action(action_id)
    assert action is not None
    return next(iter(action.evidence.values())).sha256


def probes(svc: Service, player: str | None) -> dict[str, Probe]:
    """A probe for every row of the table."""
    api = lambda method, path, **kw: svc.api(player, method, path, **kw)  # noqa: E731
    page = lambda method, path, **kw: svc.page(player, method, path, **kw)  # noqa: E731
    same = lambda _agency: ""  # noqa: E731  (no agency in it: any answer will do)
    action = ACTION_OF.__getitem__
    said = lambda agency: f"said-by-{agency}"  # noqa: E731
    asked = lambda agency: f"asked-of-{agency}"  # noqa: E731
    window = {"from": "2000-01-01", "to": "2999-01-01"}
    pages_window = {"start": "2000-01-01", "end": "2999-01-01"}
    offpage = {"command": "comment", "text": "x", "key_id": svc.key_id(player)}
    return {
        "GET /healthz": Probe(lambda _: api("GET", "/healthz"), same),
        "GET /v1/checkpoint": Probe(lambda _: api("GET", "/v1/checkpoint"), same),
        "POST /v1/checkpoint": Probe(lambda _: api("POST", "/v1/checkpoint"), same),
        "GET /v1/checkpoints": Probe(lambda _: api("GET", "/v1/checkpoints"), same),
        "GET /v1/checkpoints/{tree_size}/cosigned": Probe(
            lambda _: api("GET", f"/v1/checkpoints/{svc.world.ledger.tree_size()}/cosigned"),
            same,
        ),
        "POST /v1/checkpoints/{tree_size}/cosignatures": Probe(
            lambda _: api(
                "POST", "/v1/checkpoints/1/cosignatures", json={"witness_key": "w", "line": "x"}
            ),
            same,
        ),
        "GET /v1/log-key/rotations": Probe(lambda _: api("GET", "/v1/log-key/rotations"), same),
        "GET /v1/log-key/pq": Probe(lambda _: api("GET", "/v1/log-key/pq"), same),
        "GET /v1/log/entries": Probe(lambda _: api("GET", "/v1/log/entries"), same),
        "GET /v1/proofs/inclusion": Probe(
            lambda _: api("GET", "/v1/proofs/inclusion?leaf_index=0&tree_size=2"), same
        ),
        "GET /v1/proofs/consistency": Probe(
            lambda _: api("GET", "/v1/proofs/consistency?old_size=1&new_size=2"), same
        ),
        "GET /v1/entries/{leaf_index}": Probe(lambda _: api("GET", "/v1/entries/0"), same),
        "GET /tlog/checkpoint": Probe(lambda _: api("GET", "/tlog/checkpoint"), same),
        "GET /tlog/tile/{level}/{index:path}": Probe(
            lambda _: api("GET", "/tlog/tile/0/000.p/1"), same
        ),
        "GET /tlog/tile/entries/{index:path}": Probe(
            lambda _: api("GET", "/tlog/tile/entries/000.p/1"), same
        ),
        "GET /v1/me": Probe(lambda _: api("GET", "/v1/me"), same),
        "GET /v1/users": Probe(
            lambda _: api("GET", "/v1/users"), lambda agency: f'"{agency}.officer"', listing=True
        ),
        "GET /v1/plan": Probe(lambda _: api("GET", "/v1/plan"), lambda a: f'"{a}"', True),
        "GET /v1/status": Probe(lambda _: api("GET", "/v1/status"), action, True),
        "GET /v1/diff": Probe(lambda _: api("GET", "/v1/diff", params=window), said, True),
        "GET /v1/aggregates/{aggregate_id}/version": Probe(
            lambda a: api("GET", f"/v1/aggregates/{action_aggregate_id(action(a))}/version"),
            lambda a: str(action_aggregate_id(action(a))),
        ),
        "GET /v1/actions/{action_id}": Probe(
            lambda a: api("GET", f"/v1/actions/{action(a)}"), said
        ),
        "GET /v1/actions/{action_id}/timeline": Probe(
            lambda a: api("GET", f"/v1/actions/{action(a)}/timeline"), said
        ),
        "GET /v1/recommendations/{number}/timeline": Probe(
            lambda _: api("GET", "/v1/recommendations/1/timeline"), said, True
        ),
        "POST /v1/entries": Probe(lambda _: api("POST", "/v1/entries", json={"entries": []}), same),
        "POST /v1/evidence": Probe(
            lambda _: api("POST", "/v1/evidence", files={"file": ("f.txt", b"probe")}), same
        ),
        "GET /v1/evidence/{sha256}": Probe(
            lambda a: api("GET", f"/v1/evidence/{svc.sha[a]}"), lambda a: f"{a} evidence"
        ),
        "GET /v1/report": Probe(lambda _: api("GET", "/v1/report?as_of=2999-01-01"), same),
        "GET /v1/export/status": Probe(
            lambda _: api("GET", "/v1/export/status?format=csv"), action, True
        ),
        "GET /v1/challenges": Probe(lambda _: api("GET", "/v1/challenges"), asked, True),
        "GET /v1/challenges/{challenge_id}": Probe(
            lambda a: api("GET", f"/v1/challenges/{CHALLENGE_OF[a]}"), asked
        ),
        "GET /v1/sessions": Probe(lambda _: api("GET", "/v1/sessions"), lambda _: "sig-1"),
        "GET /v1/sessions/{session_id}/minutes": Probe(
            lambda _: api("GET", "/v1/sessions/sig-1/minutes"), lambda _: "Minutes: SIG"
        ),
        "GET /challenges": Probe(lambda _: page("GET", "/challenges"), asked, True),
        "GET /challenges/{challenge_id}": Probe(
            lambda a: page("GET", f"/challenges/{CHALLENGE_OF[a]}"), asked
        ),
        "GET /sessions": Probe(lambda _: page("GET", "/sessions"), lambda _: "sig-1"),
        "GET /sessions/{session_id}": Probe(
            lambda _: page("GET", "/sessions/sig-1"), lambda _: "Minutes (PDF)"
        ),
        "GET /signin": Probe(lambda _: page("GET", "/signin"), same),
        "POST /signin": Probe(lambda _: svc.sign_in(player), same),
        "POST /signout": Probe(lambda _: svc.sign_out(player), same),
        "GET /": Probe(lambda _: page("GET", "/"), action, True),
        "GET /as-of": Probe(lambda _: page("GET", "/as-of?date=2999-01-01"), action, True),
        "GET /diff": Probe(lambda _: page("GET", "/diff", params=pages_window), said, True),
        "GET /recommendations/{number}": Probe(
            lambda _: page("GET", "/recommendations/1"), action, True
        ),
        "GET /actions/{action_id}": Probe(lambda a: page("GET", f"/actions/{action(a)}"), said),
        "GET /keys": Probe(lambda _: page("GET", "/keys"), same),
        "GET /verify": Probe(lambda _: page("GET", "/verify"), same),
        "POST /verify": Probe(lambda _: page("POST", "/verify"), same),
        "POST /web/prepare": Probe(
            lambda a: page("POST", "/web/prepare", json={"action_id": action(a), **offpage}),
            same,
        ),
        # Unknown commands: answered (422) to whoever may read the challenge or session
        # (and sign in the browser); who may sign which entry there is the domain's.
        "POST /web/prepare/challenge": Probe(
            lambda a: page(
                "POST",
                "/web/prepare/challenge",
                json={"challenge_id": CHALLENGE_OF[a], **offpage, "command": "probe"},
            ),
            same,
        ),
        "POST /web/prepare/session": Probe(
            lambda _: page(
                "POST",
                "/web/prepare/session",
                json={"session_id": "sig-1", **offpage, "command": "probe"},
            ),
            same,
        ),
        "POST /web/off-page": Probe(
            lambda a: page("POST", "/web/off-page", data={"action_id": action(a), **offpage}),
            same,
        ),
        "POST /web/off-page/body": Probe(
            lambda a: page("POST", "/web/off-page/body", data={"action_id": action(a)}), same
        ),
        "POST /web/off-page/record": Probe(
            lambda a: page("POST", "/web/off-page/record", data={"action_id": action(a)}), same
        ),
        # The public tracker: answered (with its proofs) only when published; else 404.
        "GET /public": Probe(lambda _: page("GET", "/public"), proofs_page),
        "GET /public/recommendations/{number}": Probe(
            lambda _: page("GET", "/public/recommendations/1"), proofs_page
        ),
        "GET /public/agencies/{agency}": Probe(
            lambda a: page("GET", f"/public/agencies/{a}"), proofs_page
        ),
        "GET /public/keys": Probe(lambda _: page("GET", "/public/keys"), stated_keys),
        "GET /public/evidence/{sha256}": Probe(
            lambda _: page("GET", f"/public/evidence/{svc.sha['council']}"),
            lambda _: "council evidence",  # the council published its file; nobody else
        ),
        "GET /public/v1/plan": Probe(lambda _: api("GET", "/public/v1/plan"), proofs_json),
        "GET /public/v1/recommendations/{number}": Probe(
            lambda _: api("GET", "/public/v1/recommendations/1"), proofs_json
        ),
        "GET /public/v1/agencies/{agency}": Probe(
            lambda a: api("GET", f"/public/v1/agencies/{a}"), proofs_json
        ),
        "GET /public/v1/keys": Probe(lambda _: api("GET", "/public/v1/keys"), stated_origin),
    }


def proofs_page(_agency: str) -> str:
    return 'id="public-proofs"'


def proofs_json(_agency: str) -> str:
    return '"proofs":'


def stated_keys(_agency: str) -> str:
    return 'id="stated-log-key"'


def stated_origin(_agency: str) -> str:
    return '"origin":'


def refused(response: Any) -> bool:
    """401/403, or a page sending the visitor to sign in."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and "/signin" in response.headers.get("location", "")


def cell(probe: Probe) -> str:
    """What the service answers for this probe: all, own or —."""
    seen = {}
    if probe.listing:
        response = probe.ask("council")
        for agency in AGENCIES:
            seen[agency] = not refused(response) and probe.marker(agency) in response.text
    else:
        for agency in AGENCIES:
            response = probe.ask(agency)
            seen[agency] = not refused(response) and probe.marker(agency) in response.text
    if all(seen.values()):
        return "all"
    if seen["council"]:
        return "own"
    return "—"


def app_routes(world: World) -> set[str]:
    """Every (method, path) the service routes, as the table names them."""
    app = create_app(world.config, world.ledger)
    found: set[str] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
                continue
            if route.path in OUTSIDE:
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    found.add(f"{method} {route.path}")

    walk(app.routes)
    return found


def test_every_route_has_a_row(matrix_world: World) -> None:
    columns, rows = readme_table("access-matrix")
    assert columns == list(PLAYERS)
    assert set(rows) == app_routes(matrix_world)


def test_the_service_answers_as_the_readme_says(matrix_world: World) -> None:
    """Each cell asked of the running service; all mismatches listed together."""
    columns, rows = readme_table("access-matrix")
    with web_client(matrix_world) as http:
        for extra in ("admin", "consultee"):
            http.tokens[extra] = http.tokens.get(extra) or _token(matrix_world, extra)
        svc = Service(matrix_world, http)
        mismatches = []
        for column in columns:
            player = PLAYERS[column]
            for route, probe in probes(svc, player).items():
                expected = rows[route][columns.index(column)]
                got = cell(probe)
                if got != expected:
                    mismatches.append(f"{route} as {column}: README says {expected}, got {got}")
    assert not mismatches, "\n".join(mismatches)


def test_a_published_ledger_answers_as_the_readme_says(matrix_world: World) -> None:
    """INQUIRY_LEDGER_PUBLIC=on: the README's second table, cell by cell; it names only
    rows of the first (the others answer as there, which the test above holds)."""
    columns, rows = readme_table("public-matrix")
    _, every = readme_table("access-matrix")
    assert columns == list(PLAYERS) and set(rows) <= set(every)
    published = dataclasses.replace(
        matrix_world, config=dataclasses.replace(matrix_world.config, public=True)
    )
    with web_client(published) as http:
        for extra in ("admin", "consultee"):
            http.tokens[extra] = http.tokens.get(extra) or _token(matrix_world, extra)
        svc = Service(matrix_world, http)
        mismatches = []
        for column in columns:
            player = PLAYERS[column]
            for route, probe in probes(svc, player).items():
                if route not in rows:
                    continue
                expected = rows[route][columns.index(column)]
                got = cell(probe)
                if got != expected:
                    mismatches.append(f"{route} as {column}: README says {expected}, got {got}")
    assert not mismatches, "\n".join(mismatches)


def test_the_signing_table_is_the_auditors(matrix_world: World) -> None:
    """The README's "who signs what" table is ledger/auditor/authority.py's."""
    columns, rows = readme_table("authority-matrix")
    assert columns == list(SIGNING_ROLES)
    assert rows == authority_rows()


def _token(world: World, user: str) -> str:
    from api.application.tokens import TokenStore

    return TokenStore(world.ledger.tables).create(user, timedelta(days=1), now=world.clock.now)
