"""The web pages in-process (FastAPI's TestClient), on both event stores: sign-in and its
cookie, CSRF refusals, forms offered by the domain's rules, prepare-then-sign, pages
that need no JavaScript, and the chair's verification page."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from api.http.pages.views import Rag, action_rag, worst
from domain import Action, Status
from ledger.auditor.entry import EventBody, SignedEntry
from ledger.keys import KeyPair
from projections.status import ActionRow
from tests.support.pages import field_of as _field
from tests.support.pages import sign_in
from tests.support.rawdb import RawEvents
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def commands_offered(http: Any, action_id: str) -> set[str]:
    page = http.get(f"/actions/{action_id}")
    assert page.status_code == 200, page.text
    return set(re.findall(r'data-command="([a-z_]+)"', page.text))


def test_pages_need_a_session_and_the_cookie_is_httponly_strict(http: Any) -> None:
    response = http.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    nonce = _field(http.get("/signin").text, r'name="csrf" value="([^"]+)"')
    token = http.tokens["scrutiny"]
    response = http.post("/signin", data={"token": token, "csrf": nonce}, follow_redirects=False)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("il_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert token not in cookie  # a server-side session id, never the token itself
    home = http.get("/")
    assert home.status_code == 200 and "Test plan" in home.text
    assert token not in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]


def test_sign_in_refuses_bad_tokens_and_forms_from_elsewhere(http: Any) -> None:
    nonce = _field(http.get("/signin").text, r'name="csrf" value="([^"]+)"')
    response = http.post("/signin", data={"token": "il_nope_nope", "csrf": nonce})
    assert response.status_code == 401 and "not accepted" in response.text
    # A cross-site form cannot carry the SameSite=Strict nonce cookie (login CSRF).
    http.cookies.clear()
    response = http.post("/signin", data={"token": http.tokens["chair"], "csrf": nonce})
    assert response.status_code == 403 and "il_session" not in response.headers.get(
        "set-cookie", ""
    )


def test_state_changing_requests_with_the_cookie_need_the_csrf_token(
    http: Any, world: World
) -> None:
    csrf = sign_in(http, "council.officer")
    key_id = world.keys["council.officer"].key_id
    prepare = {"action_id": "R1.1", "command": "start", "key_id": key_id, "inputs": {}}
    response = http.post("/web/prepare", json=prepare)
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"
    response = http.post("/web/prepare", json=prepare, headers={"X-CSRF-Token": "x" * 64})
    assert response.status_code == 403
    body = http.post("/web/prepare", json=prepare, headers={"X-CSRF-Token": csrf}).json()["body"]
    signed = SignedEntry.sign(EventBody.from_json(body), world.keys["council.officer"])
    wire = signed.to_json()
    request = {"entries": [{"signature": wire.pop("signature"), "body": wire}]}
    response = http.post("/v1/entries", json=request)
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"
    files = {"file": ("a.txt", b"hello")}
    assert http.post("/v1/evidence", files=files).status_code == 403
    assert http.post("/signout", data={}).status_code == 403
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED
    response = http.post("/v1/entries", json=request, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert world.ledger.action("R1.1").status is Status.IN_PROGRESS
    # Reads with the cookie need no CSRF token (GET changes nothing).
    assert http.get("/v1/me").json()["user_id"] == "council.officer"


def test_prepare_builds_the_domain_body_and_refuses_what_the_ledger_would(
    http: Any, world: World
) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    sha = world.evidence("R1.1", b"minutes of the meeting")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    csrf = sign_in(http, "council.lead")
    headers = {"X-CSRF-Token": csrf}
    key_id = world.keys["council.lead"].key_id
    ask = {
        "action_id": "R1.1",
        "command": "sign_off",
        "key_id": key_id,
        "inputs": {"statement": "Complete ✓"},
    }
    body = http.post("/web/prepare", json=ask, headers=headers).json()["body"]
    assert body["type"] == Action.SignedOff.TYPE and body["actor"] == "council.lead"
    assert body["payload"] == {"level": "agency", "evidence": [sha], "statement": "Complete ✓"}
    assert body["version"] == world.ledger.action("R1.1").version + 1
    # A key that is not this user's is refused before anything is signed.
    wrong = http.post("/web/prepare", json={**ask, "key_id": "0" * 16}, headers=headers)
    assert wrong.status_code == 403 and wrong.json()["rule"] == "signature.unknown_key"
    csrf = sign_in(http, "council.officer")
    ask["key_id"] = world.keys["council.officer"].key_id
    refused = http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf})
    assert refused.status_code in (403, 422) and refused.json()["rule"].startswith(
        "action.sign_off"
    )
    unknown = http.post(
        "/web/prepare", json={**ask, "command": "delete"}, headers={"X-CSRF-Token": csrf}
    )
    assert unknown.status_code == 422
    other_agency = http.post(
        "/web/prepare",
        json={**ask, "action_id": "R1.2", "command": "start"},
        headers={"X-CSRF-Token": csrf},
    )
    assert other_agency.status_code == 403


def test_forms_are_offered_only_to_roles_the_rules_allow(http: Any, world: World) -> None:
    sign_in(http, "council.officer")
    offered = commands_offered(http, "R1.1")
    assert "start" in offered and "attach" in offered
    assert not offered & {"sign_off", "return", "rate", "submit"}
    sign_in(http, "scrutiny")
    assert commands_offered(http, "R1.1") == set()
    sign_in(http, "police.officer")
    assert http.get("/actions/R1.1").status_code == 403
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    world.evidence("R1.1", b"terms of reference")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    sign_in(http, "council.officer")
    assert not commands_offered(http, "R1.1") & {"sign_off", "start", "submit"}
    sign_in(http, "council.lead")
    assert {"sign_off", "return", "rate"} <= commands_offered(http, "R1.1")
    sign_in(http, "sig")
    offered = commands_offered(http, "R1.1")
    assert "return" in offered and "sign_off" not in offered  # not yet agency-signed
    world.client("council.lead").sign_off("R1.1", "Complete")
    assert "sign_off" in commands_offered(http, "R1.1")
    sign_in(http, "chair")
    assert "sign_off" not in commands_offered(http, "R1.1")  # the chair verifies after IG


def test_read_only_pages_are_complete_html(http: Any, world: World) -> None:
    sha = world.evidence("R1.1", b"an evidence file")
    sign_in(http, "scrutiny")
    page = http.get("/actions/R1.1").text
    assert sha in page and f'href="/v1/evidence/{sha}"' in page
    assert "action.evidence_attached" not in page and "evidence attached" in page
    assert world.keys["council.officer"].key_id in page  # who signed, with which key
    recommendation = http.get("/recommendations/1").text
    assert "R1.1" in recommendation and "not started" in recommendation
    as_of = http.get("/as-of", params={"date": "2023-01-02"})
    assert as_of.status_code == 200 and "<table>" in as_of.text
    diff = http.get("/diff", params={"start": "2022-12-01", "end": "2023-12-31"})
    assert diff.status_code == 200 and "R1.1" in diff.text
    bad = http.get("/as-of", params={"date": "yesterday"})
    assert bad.status_code == 400 and "not a date" in bad.text
    assert http.get("/actions/R9.9").status_code == 404
    assert http.get(f"/v1/evidence/{sha}").content == b"an evidence file"


def test_sign_out_ends_the_session_for_good(http: Any, world: World) -> None:
    csrf = sign_in(http, "chair")
    stolen = http.cookies.get("il_session")
    response = http.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    http.cookies.set("il_session", stolen)
    assert http.get("/", follow_redirects=False).status_code == 303
    assert http.get("/v1/me").status_code == 401
    sign_in(http, "chair")
    token_id = http.tokens["chair"].split("_")[1]
    TokenStore(world.ledger.tables).revoke(token_id)
    assert http.get("/", follow_redirects=False).status_code == 303


def test_the_verification_page_lists_each_check(http: Any, world: World) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    world.checkpoint()
    sign_in(http, "council.officer")
    assert http.get("/verify").status_code == 403
    csrf = sign_in(http, "chair")
    page = http.get("/verify").text
    assert "only as trustworthy as the server" in page and "verify-bundle" in page
    assert http.post("/verify", data={}).status_code == 403
    result = http.post("/verify", data={"csrf": csrf}).text
    assert "every check passed" in result and result.count("✓ Pass") == 6
    raw = RawEvents(world.config)
    row_id, state = next((r[0], r[4]) for r in raw.rows() if r[3] == Action.StatusChanged.TYPE)
    raw.set_state(row_id, state.replace(b"in_progress", b"in_pr0gress"))
    result = http.post("/verify", data={"csrf": csrf}).text
    assert "problem(s) found" in result and "✗ Fail" in result
    failing = re.search(r'<tr class="check-signatures">.*?</tr>', result, re.S)
    assert failing and "✗ Fail" in failing.group(0)


class _Controls(HTMLParser):
    """Form controls (id, type) and the ids that a <label for=…> names."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[tuple[str | None, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "textarea", "select"):
            self.controls.append((found.get("id"), found.get("type")))
        elif tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))


def test_every_form_control_has_a_label(http: Any, world: World) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    world.evidence("R1.1", b"agenda")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    pages = {"/signin": http.get("/signin").text}
    sign_in(http, "council.lead")
    for path in ("/actions/R1.1", "/as-of", "/diff", "/keys"):
        pages[path] = http.get(path).text
    sign_in(http, "chair")
    pages["/verify"] = http.get("/verify").text
    for path, html in pages.items():
        parser = _Controls()
        parser.feed(html)
        visible = [(i, t) for i, t in parser.controls if t not in ("hidden", "submit")]
        assert visible or path == "/verify", path
        unlabelled = [i for i, _ in visible if i is None or i not in parser.labelled]
        assert not unlabelled, f"{path}: controls without a label: {unlabelled}"


CSS = Path(__file__).resolve().parents[4] / "api" / "http" / "pages" / "static" / "app.css"
#: (text, background) pairs the stylesheet uses, by its custom property names.
PAIRS = [
    ("ink", "paper"),
    ("muted", "paper"),
    ("muted", "soft"),
    ("link", "paper"),
    ("paper", "accent"),
    ("red", "red-bg"),
    ("amber", "amber-bg"),
    ("green", "green-bg"),
    ("grey", "grey-bg"),
    ("red", "paper"),
    ("green", "paper"),
    ("ink", "soft"),
]


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_text_colours_have_at_least_4_5_to_1_contrast() -> None:
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))
    for text, background in PAIRS:
        light, dark = sorted((_luminance(colours[text]), _luminance(colours[background])))[::-1]
        ratio = (light + 0.05) / (dark + 0.05)
        assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}:1"


def _row(status: str, **fields: Any) -> ActionRow:
    values: dict[str, Any] = {
        "action_id": "R1.1",
        "recommendation": 1,
        "title": "t",
        "lead_agency": "council",
        "status": status,
        "agency_claim": None,
        "verdict": None,
        "agency_rag": None,
        "review_rag": None,
        "due_date": None,
        "overdue": False,
        "evidence": 0,
        "signed_by": {},
        "last_change": "",
    }
    values.update(fields)
    return ActionRow(**values)


def test_rag_shown_prefers_decisions_then_reviewers_then_agencies() -> None:
    assert action_rag(_row("verified", review_rag="red")) == Rag("green", "status")
    assert action_rag(_row("in_progress", review_rag="red", agency_rag="green")).value == "red"
    assert action_rag(_row("in_progress", agency_rag="green")) == Rag("green", "agency")
    assert action_rag(_row("in_progress", overdue=True)) == Rag("red", "status")
    assert action_rag(_row("blocked")).value == "red"
    assert action_rag(_row("not_started")).value == "not_started"
    assert action_rag(_row("evidence_submitted")).value == "amber"
    assert worst([Rag("green", "x"), Rag("amber", "y")]) == Rag("amber", "worst of its actions")
    assert worst([]) is None


def test_over_https_the_cookies_are_secure(world: World) -> None:
    with TestClient(create_app(world.config, world.ledger), base_url="https://testserver") as c:
        token = TokenStore(world.ledger.tables).create(
            "chair", timedelta(hours=1), now=world.clock.now
        )
        signin = c.get("/signin")
        assert "secure" in signin.headers["set-cookie"].lower()
        nonce = _field(signin.text, r'name="csrf" value="([^"]+)"')
        response = c.post("/signin", data={"token": token, "csrf": nonce}, follow_redirects=False)
        cookie = next(x for x in response.headers.get_list("set-cookie") if "il_session=" in x)
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}
        assert c.get("/").status_code == 200


def test_each_form_becomes_the_payload_the_cli_would_sign(http: Any, world: World) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    sha = world.evidence("R1.1", b"an agenda")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    csrf = sign_in(http, "council.lead")
    key_id = world.keys["council.lead"].key_id

    def payload(command: str, inputs: dict[str, Any]) -> Any:
        ask = {"action_id": "R1.1", "command": command, "key_id": key_id, "inputs": inputs}
        response = http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 200, response.text
        return response.json()["body"]["payload"]

    assert payload("return", {"reasons": " Minutes unsigned \n\n Wrong year "}) == {
        "level": "agency",
        "reasons": ["Minutes unsigned", "Wrong year"],
    }
    assert payload("rate", {"rating": "amber", "reason": "Slipping"}) == {
        "scope": "agency",
        "rating": "amber",
        "reason": "Slipping",
    }
    # An agency does not challenge its own action (issue 15): not prepared, not offered.
    ask = {"action_id": "R1.1", "command": "challenge", "key_id": key_id, "inputs": {"text": "?"}}
    refused = http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403 and "may not challenge" in refused.json()["detail"]
    assert "challenge" not in commands_offered(http, "R1.1")
    assert payload("sign_off", {})["evidence"] == [sha]
    empty = {"action_id": "R1.1", "command": "return", "key_id": key_id, "inputs": {}}
    refused = http.post("/web/prepare", json=empty, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and "reasons is required" in refused.json()["detail"]


def test_a_consultee_is_offered_no_evidence_download(http: Any, world: World) -> None:
    """Lived-experience consultees read the action and its evidence's names, never the
    files (GET /v1/evidence refuses them), so the page links them to none."""
    sha = world.evidence("R1.1", b"an evidence file")
    key = KeyPair.generate()
    world.client("chair").register_user("lx1", "L", "lived_experience", None, key.public_key)
    http.tokens["lx1"] = TokenStore(world.ledger.tables).create(
        "lx1", timedelta(days=1), now=world.clock.now
    )
    sign_in(http, "lx1")
    page = http.get("/actions/R1.1").text
    assert sha in page and "minutes.txt" in page and "not read by consultees" in page
    assert f'href="/v1/evidence/{sha}"' not in page
    assert http.get(f"/v1/evidence/{sha}").status_code == 403
