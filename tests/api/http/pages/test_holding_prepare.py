"""Holding to account from the browser (issue 15): `POST /web/prepare/challenge` and
`POST /web/prepare/session` build the exact body the CLI would sign (the same Client and
minutes code), only for a signed-in reader with the CSRF token, never for a role the
charter sends off the page, and refuse what the domain's rule would; the pages offer each
form exactly when the rule accepts it, and the narrative update is a form of the action
page. Each prepared body, signed with the user's own key, is recorded by POST /v1/entries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.application.minutes import minutes_of
from domain.challenge import Challenge
from domain.ids import challenge_aggregate_id
from domain.session import session_aggregate_id
from ledger.auditor.entry import EventBody, SignedEntry
from ledger.config import LedgerConfig
from projections.minutes_render import minutes_sha256
from tests.support.clock import Clock
from tests.support.web import require_off_page, sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world

SESSION = {
    "session_id": "sig-1", "body": "SIG", "date": "2024-03-01", "started_at": "09:00",
    "ended_at": "12:00", "chair": "scrutiny", "recommendations": [1, 2],
    "attendees": [{"role": "Chair", "label": "Chair"}],
}  # fmt: skip


@pytest.fixture
def w(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    world = make_world(
        LedgerConfig(home=tmp_path / "home"), Clock(datetime(2024, 3, 1, 10, tzinfo=UTC))
    )
    world.add_action("R1.1", "council")
    world.add_action("R2.1", "police")
    world.evidence("R1.1", b"the group's minutes")
    scrutiny = world.client("scrutiny")
    scrutiny.raise_challenge("C1", "R1.1", "council", "When will the group meet?")
    scrutiny.raise_challenge("C2", "R2.1", "police", "Where is the data?")
    world.client("sig").submit("session.held", session_aggregate_id("sig-1"), SESSION)
    yield world
    world.ledger.close()


@pytest.fixture
def http(w: World) -> Iterator[Any]:
    with web_client(w) as client:
        yield client


def ask(http: Any, w: World, user: str, kind: str, about: str, command: str, **inputs: Any) -> Any:
    """Sign in as `user` and ask the route to prepare `command` on `about` (a challenge
    or a session; "" to raise a challenge)."""
    csrf = sign_in(http, user)
    request = {
        f"{kind}_id": about,
        "command": command,
        "key_id": w.keys[user].key_id,
        "inputs": inputs,
    }
    return http.post(f"/web/prepare/{kind}", json=request, headers={"X-CSRF-Token": csrf})


def record(http: Any, w: World, user: str, response: Any) -> Any:
    """Sign the prepared body with the user's own key and post it, as the browser does."""
    assert response.status_code == 200, response.text
    body = EventBody.from_json(response.json()["body"])
    signed = SignedEntry.sign(body, w.keys[user]).to_json()
    csrf = sign_in(http, user)
    entry = {"signature": signed.pop("signature"), "body": signed}
    done = http.post("/v1/entries", json={"entries": [entry]}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200, done.text
    return done.json()


def offered(http: Any, user: str, path: str) -> set[str]:
    sign_in(http, user)
    page = http.get(path)
    assert page.status_code == 200, page.text
    return set(re.findall(r'data-command="([a-z_]+)"', page.text))


def challenge(w: World, challenge_id: str) -> Challenge:
    state = w.ledger.get(challenge_aggregate_id(challenge_id))
    assert isinstance(state, Challenge)
    return state


def test_a_challenge_is_raised_answered_and_closed_from_prepared_bodies(
    http: Any, w: World
) -> None:
    raised = ask(http, w, "scrutiny", "challenge", "", "raise", subject="r1.1", text=" Who? ")
    body = raised.json()["body"]
    assert body["type"] == "challenge.raised" and body["actor"] == "scrutiny"
    assert body["payload"] == {
        "challenge_id": "C3",
        "subject": "R1.1",
        "agency": "council",  # the agency that leads it, when none is chosen
        "text": "Who?",
    }
    assert body["aggregate_id"] == str(challenge_aggregate_id("C3"))
    record(http, w, "scrutiny", raised)
    # A recommendation led by two agencies: the agency asked must be chosen.
    both = ask(http, w, "scrutiny", "challenge", "", "raise", subject="R1", text="?")
    assert both.status_code == 422 and "choose the agency" in both.json()["detail"]
    police = ask(http, w, "sig", "challenge", "", "raise", subject="R1", agency="police", text="?")
    assert police.json()["body"]["payload"]["agency"] == "police"

    sha = w.ledger.action("R1.1").current_evidence()  # type: ignore[union-attr]
    answer = ask(
        http, w, "council.officer", "challenge", "C3", "answer", text="In May", evidence=sha[0]
    )
    assert answer.json()["body"]["payload"] == {"text": "In May", "evidence": sha}
    assert answer.json()["label"] == "Answer the challenge"
    record(http, w, "council.officer", answer)
    assert challenge(w, "C3").state == "answered"

    close = ask(
        http, w, "scrutiny", "challenge", "C3", "close", outcome="not_satisfied", reason="Vague"
    )
    assert close.json()["body"]["payload"] == {"outcome": "not_satisfied", "reason": "Vague"}
    record(http, w, "scrutiny", close)
    assert challenge(w, "C3").outcome == "not_satisfied"
    again = ask(http, w, "scrutiny", "challenge", "C3", "close", outcome="satisfied", reason="x")
    assert again.status_code == 409  # closed is final: the domain's rule, before signing

    escalate = ask(http, w, "scrutiny", "challenge", "C1", "escalate", to="chair", reason="Late")
    assert escalate.json()["body"]["payload"] == {"to": "chair", "reason": "Late"}


def test_challenge_refusals(http: Any, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    text = {"text": "An answer"}
    # The wrong role: an agency does not raise, nor close what another raised.
    refused = ask(http, w, "council.officer", "challenge", "", "raise", subject="R1.1", **text)
    assert refused.status_code == 403 and refused.json()["rule"] == "challenge.raise"
    unread = ask(http, w, "council.officer", "challenge", "", "raise", subject="R2.1", **text)
    assert unread.status_code == 403 and unread.json()["error"] == "not_readable"
    refused = ask(http, w, "sig", "challenge", "C1", "close", outcome="satisfied", reason="ok")
    assert refused.status_code == 403 and refused.json()["rule"] == "challenge.close"
    refused = ask(http, w, "scrutiny", "challenge", "C1", "answer", **text)
    assert refused.status_code == 403 and refused.json()["rule"] == "challenge.answer"
    # The other agency: another agency's challenge is not even readable.
    other = ask(http, w, "council.officer", "challenge", "C2", "answer", **text)
    assert other.status_code == 403 and other.json()["error"] == "not_readable"
    # Evidence that is not the action's.
    wrong = ask(http, w, "council.lead", "challenge", "C1", "answer", evidence="0" * 64, **text)
    assert wrong.status_code == 422 and "not current evidence" in wrong.json()["detail"]
    assert ask(http, w, "sig", "challenge", "C9", "close").status_code == 404
    assert ask(http, w, "sig", "challenge", "C1", "delete").status_code == 422
    # Not signed in; no CSRF token; a key that is not the user's.
    http.cookies.clear()
    request = {"challenge_id": "C1", "command": "answer", "key_id": "x", "inputs": text}
    assert http.post("/web/prepare/challenge", json=request).status_code == 401
    sign_in(http, "council.officer")
    no_csrf = http.post("/web/prepare/challenge", json=request)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf_failed"
    csrf = sign_in(http, "council.officer")
    bad_key = http.post(
        "/web/prepare/challenge",
        json={**request, "key_id": "0" * 16},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad_key.status_code == 403 and bad_key.json()["rule"] == "signature.unknown_key"
    # A role the charter sends off the page is refused here, and shown the command line.
    require_off_page(monkeypatch, w, ["officer"])
    off = ask(http, w, "council.officer", "challenge", "C1", "answer", **text)
    assert off.status_code == 403 and off.json()["error"] == "off_page_only"
    page = http.get("/challenges/C1").text
    assert 'id="off-page-only"' in page and "challenge answer C1" in page
    assert "data-command=" not in page
    # Nothing was recorded by any of it.
    assert challenge(w, "C1").answers == []


def test_the_pages_offer_exactly_what_the_rules_accept(http: Any, w: World) -> None:
    assert offered(http, "council.officer", "/challenges/C1") == {"answer"}
    assert offered(http, "scrutiny", "/challenges/C1") == {"close", "escalate"}
    assert offered(http, "sig", "/challenges/C1") == set()
    assert offered(http, "scrutiny", "/challenges") == {"raise"}
    assert offered(http, "council.lead", "/challenges") == set()
    # Escalation offers only the bodies it may go to: never the challenger's own.
    w.client("sig").raise_challenge("C3", "R1.1", "council", "And the budget?")
    sign_in(http, "sig")
    page = http.get("/challenges/C3").text
    escalate = page.split('data-command="escalate"')[1].split("</form>")[0]
    assert 'value="chair"' in escalate and 'value="implementation_group"' not in escalate
    # The answer form lists the action's current evidence to cite, by name.
    sign_in(http, "council.officer")
    answer = http.get("/challenges/C1").text.split('data-command="answer"')[1]
    assert 'type="checkbox"' in answer and "minutes.txt" in answer
    # The action page links an overseer to the form, with the action filled in.
    sign_in(http, "scrutiny")
    assert 'href="/challenges?subject=R1.1#ch-raise"' in http.get("/actions/R1.1").text
    assert 'value="R1.1"' in http.get("/challenges?subject=R1.1").text
    # The narrative update is a form of the action page for the lead agency's people only.
    assert "update" in offered(http, "council.officer", "/actions/R1.1")
    assert "update" in offered(http, "council.lead", "/actions/R1.1")
    assert "update" not in offered(http, "sig", "/actions/R1.1")


def test_the_answer_form_names_no_evidence_of_an_action_transferred_away(
    http: Any, w: World
) -> None:
    """C1 stays addressed to the council once R1.1 moves to the police, whose action (and
    so its evidence files' names) the council's people no longer read."""
    w.client("sig").transfer_lead("R1.1", "police", "The police lead it now")
    sign_in(http, "council.officer")
    assert http.get("/actions/R1.1").status_code == 403
    page = http.get("/challenges/C1").text
    answer = page.split('data-command="answer"')[1].split("</form>")[0]
    assert "minutes.txt" not in answer and 'type="checkbox"' not in answer


def test_the_narrative_update_is_prepared_as_the_cli_signs_it(http: Any, w: World) -> None:
    csrf = sign_in(http, "council.officer")
    request = {
        "action_id": "R1.1",
        "command": "update",
        "key_id": w.keys["council.officer"].key_id,
        "inputs": {"period": " 2024-H1 ", "done": "Met twice", "risks": "Vacancy"},
    }
    response = http.post("/web/prepare", json=request, headers={"X-CSRF-Token": csrf})
    assert response.json()["body"]["payload"] == {
        "period": "2024-H1",
        "done": "Met twice",
        "next": "",
        "risks": "Vacancy",
    }
    record(http, w, "council.officer", response)
    assert w.ledger.action("R1.1").narrative_updates[-1].period == "2024-H1"  # type: ignore[union-attr]
    sign_in(http, "police.officer")
    request["key_id"] = w.keys["police.officer"].key_id
    csrf = sign_in(http, "police.officer")
    other = http.post(
        "/web/prepare", json={**request, "action_id": "R2.1"}, headers={"X-CSRF-Token": csrf}
    )
    assert other.status_code == 200  # their own agency's action
    mine = http.post("/web/prepare", json=request, headers={"X-CSRF-Token": csrf})
    assert mine.status_code == 403  # the council's action is not theirs to read
    empty = {**request, "action_id": "R2.1", "inputs": {"period": "2024-H1"}}
    refused = http.post("/web/prepare", json=empty, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and refused.json()["rule"] == "action.narrative_update"


def test_the_chair_approves_the_minutes_they_read(http: Any, w: World) -> None:
    added = ask(
        http, w, "sig", "session", "sig-1", "arising_add", recommendation="2",
        owner="agency:police", due_date="2024-04-01", done_means="Data shared", text="Share it",
    )  # fmt: skip
    assert added.json()["body"]["payload"] == {
        "arising_id": "sig-1.1",
        "session_id": "sig-1",
        "recommendation": 2,
        "owner": {"agency": "police"},
        "due_date": "2024-04-01",
        "done_means": "Data shared",
        "text": "Share it",
    }
    record(http, w, "sig", added)
    # The page shows the chair what the approval signs: the minutes' hash and leaves.
    minutes = minutes_of(w.ledger, "sig-1")
    sha = minutes_sha256(minutes)
    assert offered(http, "scrutiny", "/sessions/sig-1") == {
        "approve",
        "arising_add",
        "arising_close",
    }
    page = http.get("/sessions/sig-1").text
    assert f'id="minutes-sha">{sha}<' in page
    assert f'data-entries="{",".join(map(str, minutes.entries))}"' in page
    assert offered(http, "sig", "/sessions/sig-1") == {"arising_add", "arising_close"}
    # Read again if anything was signed since: a stale hash is refused before signing.
    stale = ask(http, w, "scrutiny", "session", "sig-1", "approve", minutes_sha256="0" * 64)
    assert stale.status_code == 422 and "read them again" in stale.json()["detail"]
    refused = ask(http, w, "sig", "session", "sig-1", "approve", minutes_sha256=sha)
    assert refused.status_code == 403 and refused.json()["rule"] == "session.approve_minutes"
    unread = ask(http, w, "council.lead", "session", "sig-1", "approve", minutes_sha256=sha)
    assert unread.status_code == 403 and unread.json()["error"] == "not_readable"
    assert ask(http, w, "scrutiny", "session", "sig-2", "approve").status_code == 404
    approval = ask(http, w, "scrutiny", "session", "sig-1", "approve", minutes_sha256=sha)
    assert approval.json()["body"]["payload"] == {
        "minutes_sha256": sha,
        "entries": minutes.entries,
    }
    record(http, w, "scrutiny", approval)
    approved = minutes_of(w.ledger, "sig-1").approval
    assert approved is not None and approved.minutes_sha256 == sha
    assert "approve" not in offered(http, "scrutiny", "/sessions/sig-1")
    closed = ask(
        http, w, "sig", "session", "sig-1", "arising_close", arising_id="sig-1.1",
        reason="Shared on 2 March", evidence="",
    )  # fmt: skip
    assert closed.json()["body"]["payload"] == {
        "arising_id": "sig-1.1",
        "reason": "Shared on 2 March",
        "evidence": None,
    }
    stranger = ask(
        http, w, "sig", "session", "sig-1", "arising_close", arising_id="other-1.1", reason="x"
    )
    assert stranger.status_code == 422
