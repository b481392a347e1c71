"""The public tracker (api/http/public/, projections/public.py, ledger/public_proofs.py):
off unless the operator publishes the ledger; with no sign-in when on; cut at the newest
checkpoint; nothing personal in any page, JSON or published entry; and every answer
checks out on the reader's side (ledger/auditor/public_check.py). The browser's own
check runs in Chromium in tests/api/http/public/."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from ledger.auditor.public_check import check_public
from tests.support.world import World

NAME = "Joanna Quenby-Testname"
COMMENT = "Comment that names a child: Ellis Private-Example"
FILE_NAME = "case-notes-ellis-private-example.txt"


@contextmanager
def public_client(world: World, *, public: bool = True, **settings: Any) -> Iterator[Any]:
    config = dataclasses.replace(world.config, public=public, **settings)
    with TestClient(create_app(config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def decide(world: World) -> None:
    """A short history on R1.1: work, evidence, a comment, three sign-offs' worth."""
    officer, lead = world.client("council.officer"), world.client("council.lead")
    world.keys["council.named"] = world.keys["council.officer"]
    officer.change_status("R1.1", Status.IN_PROGRESS, "Started the review")
    officer.comment("R1.1", COMMENT)
    blob = world.evidence("R1.1", b"the minutes")
    del blob
    officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED, "Minutes attached")
    lead.sign_off("R1.1", "The council's review group met as the plan requires.")


@pytest.fixture
def seeded(world: World) -> World:
    from ledger.keys import KeyPair

    key = KeyPair.generate()
    world.client("council.lead").register_user(
        "council.analyst", NAME, "officer", "council", key.public_key
    )
    world.keys["council.analyst"] = key
    decide(world)
    world.client("council.analyst").comment("R1.1", COMMENT)
    world.checkpoint()
    return world


PAGES = (
    "/public",
    "/public/recommendations/1",
    "/public/agencies/council",
    "/public/keys",
)
JSON_ROUTES = (
    "/public/v1/plan",
    "/public/v1/recommendations/1",
    "/public/v1/agencies/council",
    "/public/v1/keys",
)


def test_off_unless_the_operator_publishes(seeded: World) -> None:
    with public_client(seeded, public=False) as http:
        for path in PAGES + JSON_ROUTES:
            assert http.get(path).status_code == 404, path
        assert http.get("/public/v1/plan").json()["detail"] == "this ledger is not published"
        assert http.get("/tlog/checkpoint").status_code == 401
        assert http.get("/tlog/tile/0/000.p/1").status_code == 401


def test_no_sign_in_when_published(seeded: World) -> None:
    with public_client(seeded) as http:
        for path in PAGES + JSON_ROUTES:
            answer = http.get(path)
            assert answer.status_code == 200, (path, answer.text[:200])
            assert answer.headers["cache-control"] == "public, max-age=10"
        page = http.get("/public/recommendations/1")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/static/public.js">' in page.text
        # The log's tree is public too; its entries are not (names, comments, files).
        assert http.get("/tlog/checkpoint").status_code == 200
        assert http.get("/tlog/tile/0/000.p/1").status_code == 200
        assert http.get("/tlog/tile/entries/000.p/1").status_code == 401
        auditor = {"Authorization": f"Bearer {http.tokens['scrutiny']}"}
        assert http.get("/tlog/tile/entries/000.p/1", headers=auditor).status_code == 200


def test_unknown_subjects_are_404_with_a_reason(seeded: World) -> None:
    with public_client(seeded) as http:
        answer = http.get("/public/v1/recommendations/77")
        assert answer.status_code == 404
        assert "no recommendation 77" in answer.json()["detail"]
        assert http.get("/public/recommendations/77").status_code == 404
        assert http.get("/public/v1/agencies/fire").status_code == 404
        assert http.get("/public/v1/recommendations/0").status_code == 422


def test_a_view_cut_before_the_plan_shows_an_empty_plan(world: World) -> None:
    """`init` signs the first checkpoint (the genesis alone): the tracker is cut there
    until the next is signed, and shows no plan rather than an uncovered one."""
    first = world.ledger.tables.checkpoints()[0]
    world.ledger.tables.latest_checkpoint = lambda: first  # type: ignore[method-assign]
    with public_client(world, checkpoint_interval=timedelta(0)) as http:
        found = http.get("/public/v1/plan").json()
    assert found["proofs"]["checkpoint"]["tree_size"] == first.tree_size == 1
    assert found["view"]["recommendations"] == [] and found["view"]["entries"] == []
    assert check_public(found, world.vkey, []).entries == 0


def test_nothing_personal_in_pages_json_or_published_entries(seeded: World) -> None:
    with public_client(seeded) as http:
        texts = [http.get(path).text for path in PAGES + JSON_ROUTES]
        for path in JSON_ROUTES[:3]:
            for item in http.get(path).json()["proofs"]["entries"]:
                texts.append(base64.b64decode(item["entry"]).decode())
    published = "\n".join(texts)
    for secret in (NAME, "Ellis", FILE_NAME, "minutes.txt", "Council.Lead"):
        assert secret not in published, secret
    # ... while the decisions and their reasons are there, by role and agency.
    assert "Started the review" in published
    assert "The council&#39;s review group met" in published or "review group met" in published
    assert "agency lead" in published


def test_the_view_is_cut_at_the_newest_checkpoint(seeded: World) -> None:
    with public_client(seeded) as http:
        before = http.get("/public/v1/recommendations/1").json()
        seeded.client("sig").return_action("R1.1", ["Not yet: the minutes are unsigned"])
        unchanged = http.get("/public/v1/recommendations/1").json()
        assert unchanged == before  # no checkpoint covers the return yet
        seeded.checkpoint()
        after = http.get("/public/v1/recommendations/1").json()
    size = after["proofs"]["checkpoint"]["tree_size"]
    assert size == before["proofs"]["checkpoint"]["tree_size"] + 1
    assert after["view"]["entries"][-1]["type"] == "action.returned"
    assert after["view"]["entries"][-1]["shown"]["reasons"] == ["Not yet: the minutes are unsigned"]
    assert after["view"]["entries"][-1]["by_role"] == "implementation_group"
    assert after["view"]["actions"][0]["status"] != before["view"]["actions"][0]["status"]


def test_every_answer_checks_out_with_the_pinned_log_key(seeded: World) -> None:
    with public_client(seeded) as http:
        for path in JSON_ROUTES[:3]:
            found = http.get(path).json()
            verdict = check_public(found, seeded.vkey, [])
            assert verdict.tree_size == seeded.ledger.tree_size()
            assert verdict.facts == len(found["view"].get("entries", []))
        rec = http.get("/public/v1/recommendations/1").json()
    kinds = [e["type"] for e in rec["view"]["entries"]]
    assert kinds == [
        "plan.recommendation_added",
        "action.added",
        "action.status_changed",
        "action.status_changed",
        "action.signed_off",
    ]
    assert rec["keys"]["log"] == seeded.vkey.encode()
    assert json.loads(base64.b64decode(rec["proofs"]["entries"][0]["entry"]))["type"] == kinds[0]


def test_pages_name_the_checkpoint_and_carry_their_proofs(seeded: World) -> None:
    with public_client(seeded) as http:
        page = http.get("/public/recommendations/1").text
        size = seeded.ledger.tree_size()
    assert f"checkpoint {size}" in page
    assert 'id="public-proofs"' in page
    assert 'data-field="reason">Started the review</span>' in page
    assert 'data-subject="R1.1" data-type="action.signed_off"' in page
    assert 'data-action="R1.1" data-status="agency_signed_off"' in page
    # Tags carry words, never colour alone.
    assert '<strong class="tag tag-agency_signed_off">Agency signed off</strong>' in page


def test_what_published_entries_reveal_is_what_the_readme_says(seeded: World) -> None:
    """The reader checks facts against the entries' own bytes, so those are published:
    the signer's user id and the plan's lead officers as the plan names them travel in
    them (README, "The public tracker"), though no page shows either."""
    with public_client(seeded) as http:
        found = http.get("/public/v1/recommendations/1").json()
        page = http.get("/public/recommendations/1").text
    entries = [json.loads(base64.b64decode(e["entry"])) for e in found["proofs"]["entries"]]
    added = next(e for e in entries if e["type"] == "action.added")
    assert added["payload"]["lead_officers"] == ["Lead"]
    assert {e["actor"] for e in entries} == {"sig", "council.officer", "council.lead"}
    shown = page.split('<script type="application/json"')[0] + page.split("</script>")[-1]
    assert "council.officer" not in shown and "lead_officers" not in shown


def test_published_evidence_is_public_while_it_stays_published(seeded: World) -> None:
    action = seeded.ledger.action("R1.1")
    assert action is not None
    sha = next(iter(action.evidence))
    with public_client(seeded) as http:
        assert http.get(f"/public/evidence/{sha}").status_code == 404  # not published
        seeded.client("council.lead").publish_evidence(
            "R1.1", sha, "The group's minutes: no personal data; they may be published."
        )
        seeded.checkpoint()
        found = http.get("/public/v1/recommendations/1").json()
        [shown] = found["view"]["published"]
        assert shown["sha256"] == sha and shown["filename"] == "minutes.txt"
        kinds = {e["type"] for e in found["view"]["entries"]}
        assert {"action.evidence_attached", "action.evidence_published"} <= kinds
        assert check_public(found, seeded.vkey, []).facts == len(found["view"]["entries"])
        page = http.get("/public/recommendations/1").text
        assert 'data-field="original_name">minutes.txt</span>' in page
        assert "no personal data; they may be published" in page
        download = http.get(f"/public/evidence/{sha}")
        assert download.status_code == 200 and download.content == b"the minutes"
        assert download.headers["x-content-sha256"] == sha
        # Unpublished: refused at once, before any new checkpoint.
        seeded.client("council.lead").unpublish_evidence("R1.1", sha, "published by mistake")
        assert http.get(f"/public/evidence/{sha}").status_code == 404
    with public_client(seeded, public=False) as http:
        assert http.get(f"/public/evidence/{sha}").status_code == 404


def test_the_formal_response_is_public_beside_the_delivery_status(seeded: World) -> None:
    seeded.client("sig").respond(
        1, "accepted_in_principle", "2022-12-01", "Home Office", "Subject to funding"
    )
    seeded.checkpoint()
    with public_client(seeded) as http:
        found = http.get("/public/v1/recommendations/1").json()
        plan = http.get("/public/v1/plan").json()
        page = http.get("/public/recommendations/1").text
    assert found["view"]["response"]["label"] == "Accepted in principle"
    assert found["view"]["response"]["responder"] == "Home Office"
    [entry] = [e for e in found["view"]["entries"] if e["type"] == "plan.response_recorded"]
    assert entry["shown"]["reasons"] == "Subject to funding"
    assert check_public(found, seeded.vkey, []).facts == len(found["view"]["entries"])
    assert check_public(plan, seeded.vkey, []).facts == len(plan["view"]["entries"])
    assert plan["view"]["recommendations"][0]["response"]["response"] == "accepted_in_principle"
    assert "<strong>Accepted in principle</strong>" in page
    assert 'data-field="responder">Home Office</span>' in page


def test_a_slow_build_leaves_readers_with_the_checkpoint_before(
    seeded: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/monitor.py: a recommendation's first build at 1M entries takes a minute; while
    the view at a new checkpoint builds, readers get the one before (proven, and naming
    its checkpoint) rather than waiting; then the new one."""
    import time

    from api.http.public import views
    from projections import public

    with public_client(seeded) as http:
        first = http.get("/public/v1/recommendations/1").json()
        seeded.client("council.officer").comment("R1.1", "a later comment")
        seeded.checkpoint()
        real = public.recommendation_view

        def slow(*args: Any, **kwargs: Any) -> Any:
            time.sleep(1.0)
            return real(*args, **kwargs)

        monkeypatch.setattr(views, "FRESH_WAIT", 0.05)
        monkeypatch.setattr(public, "recommendation_view", slow)
        started = time.monotonic()
        meanwhile = http.get("/public/v1/recommendations/1").json()
        assert time.monotonic() - started < 0.9
        assert meanwhile == first
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            latest = http.get("/public/v1/recommendations/1").json()
            if (
                latest["proofs"]["checkpoint"]["tree_size"]
                > first["proofs"]["checkpoint"]["tree_size"]
            ):
                break
            time.sleep(0.1)
        assert latest["proofs"]["checkpoint"]["tree_size"] == seeded.ledger.tree_size()
        assert check_public(latest, seeded.vkey, []).tree_size == seeded.ledger.tree_size()


def test_a_backfilled_fact_is_public_marked_and_checks_out(seeded: World) -> None:
    """Backfilled after live recording began, dated before it: the past, in the public
    timeline under its own type with its date and source; it leaves today's status."""
    from domain import Action, action_aggregate_id

    fact = {"status": "in_progress", "occurred_on": "2022-11-10", "note": "Group formed"}
    fact["source"] = "Report to Full Council, 10 November 2022"
    seeded.client("sig").submit(Action.Backfilled.TYPE, action_aggregate_id("R1.1"), fact)
    seeded.checkpoint()
    with public_client(seeded) as http:
        found = http.get("/public/v1/recommendations/1").json()
        page = http.get("/public/recommendations/1").text
    [entry] = [e for e in found["view"]["entries"] if e["type"] == "action.backfilled"]
    assert entry["shown"] == fact
    assert [a["status"] for a in found["view"]["actions"] if a["action_id"] == "R1.1"] == [
        "agency_signed_off"
    ]
    assert check_public(found, seeded.vkey, []).facts == len(found["view"]["entries"])
    assert "Report to Full Council, 10 November 2022" in page and "backfilled" in page
