"""Issue 17: the reads any signed-in user can trigger cost the plan, not the log.

An evidence download finds the actions naming its blob in the as-of projection (one
seek on the hash), and a status export is built from the projection's cut: neither
replays the log, which a spy on the ledger's readers proves. Both still give exactly
the answers of a full replay (the references: `named_evidence`, `status_export`),
including a blob named by two agencies' actions, an erased blob, and a blob attached a
moment ago. Rendered progress reports are kept, so asking again renders nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest

from api.application.evidence import ConfiguredEvidence, named_evidence
from api.application.reports import RenderedReports
from api.http.routes import report as report_route
from domain import Status
from projections.evidence import evidence_uses
from projections.projector import projector_for
from projections.report_sheets import status_export, status_export_as_of
from tests.support import asof_history
from tests.support.api_calls import auth
from tests.support.web import web_client
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """R1.1 (council) and R1.2 (police), both started; evidence stored encrypted, so
    that an erasure destroys the blob's key (the ledger checks sizes in the same store)."""
    clear_store_settings(monkeypatch)
    monkeypatch.setenv("INQUIRY_LEDGER_EVIDENCE_ENCRYPTION", "on")
    w = make_world(config, clock)
    w.ledger.evidence = ConfiguredEvidence(config.home).store
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    w.client("police.officer").change_status("R1.2", Status.IN_PROGRESS)
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with web_client(world) as client:
        yield client


def attach(world: World, action_id: str, content: bytes, by: str) -> str:
    store = world.ledger.evidence
    assert store is not None
    blob = store.put(BytesIO(content))  # type: ignore[attr-defined]
    world.client(by).attach_evidence(
        action_id,
        {
            "sha256": blob.sha256,
            "size": len(content),
            "media_type": "text/plain",
            "original_name": "minutes.txt",
            "description": f"Minutes for {action_id}",
            "storage_key": blob.storage_key,
            "effective_date": "2023-01-01",
        },
    )
    return str(blob.sha256)


class LogSpy:
    """Counts what is read from the ledger: whole-log reads, entries read by leaf
    position (what a catch-up reads) and actions rebuilt from the event store."""

    def __init__(self, ledger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reset()
        entries, leaf_entries, action = ledger.entries, ledger.leaf_entries, ledger.action

        def counted_entries(*args: Any, **kwargs: Any) -> Any:
            self.log_reads += 1
            return entries(*args, **kwargs)

        def counted_leaf_entries(*args: Any, **kwargs: Any) -> Any:
            found = leaf_entries(*args, **kwargs)
            self.leaf_entries += len(found)
            return found

        def counted_action(*args: Any, **kwargs: Any) -> Any:
            self.actions += 1
            return action(*args, **kwargs)

        monkeypatch.setattr(ledger, "entries", counted_entries)
        monkeypatch.setattr(ledger, "leaf_entries", counted_leaf_entries)
        monkeypatch.setattr(ledger, "action", counted_action)

    def reset(self) -> None:
        self.log_reads = self.leaf_entries = self.actions = 0

    def counts(self) -> tuple[int, int, int]:
        return self.log_reads, self.leaf_entries, self.actions


def test_a_download_reads_the_projection_not_the_log(
    world: World, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = attach(world, "R1.1", b"council minutes", "council.officer")
    projector_for(world.ledger).catch_up(world.ledger)
    spy = LogSpy(world.ledger, monkeypatch)
    got = http.get(f"/v1/evidence/{sha}", headers=auth(http, "council.officer"))
    assert got.status_code == 200 and got.content == b"council minutes"
    # Nothing replayed, no action rebuilt, nothing to catch up.
    assert spy.counts() == (0, 0, 0)
    for n in range(30):  # the log grows: a download then reads only the new entries
        world.client("council.officer").comment("R1.1", f"note {n}")
    spy.reset()
    assert http.get(f"/v1/evidence/{sha}", headers=auth(http, "chair")).status_code == 200
    assert spy.counts() == (0, 30, 0)


def test_an_export_reads_the_projection_not_the_log(
    world: World, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    attach(world, "R1.2", b"police note", "police.officer")
    projector_for(world.ledger).catch_up(world.ledger)
    spy = LogSpy(world.ledger, monkeypatch)
    for params in ({}, {"as_of": world.clock.now.isoformat(), "format": "xlsx"}):
        got = http.get("/v1/export/status", params=params, headers=auth(http, "police.officer"))
        assert got.status_code == 200
    assert spy.counts() == (0, 0, 0)


def test_a_blob_named_by_two_agencies_is_readable_by_both_and_no_one_else(
    world: World, http: Any
) -> None:
    shared = attach(world, "R1.1", b"joint minutes", "council.officer")
    attach(world, "R1.2", b"joint minutes", "police.officer")  # the same blob, again
    own = attach(world, "R1.1", b"council only", "council.officer")
    uses = {(u.action_id, u.lead_agency, u.erased) for u in evidence_uses(world.ledger, shared)}
    assert uses == {("R1.1", "council", False), ("R1.2", "police", False)}
    for user in ("council.officer", "police.officer", "police.lead", "chair"):
        got = http.get(f"/v1/evidence/{shared}", headers=auth(http, user))
        assert got.status_code == 200 and got.content == b"joint minutes", user
    assert http.get(f"/v1/evidence/{own}", headers=auth(http, "police.officer")).status_code == 403
    assert http.get(f"/v1/evidence/{own}", headers=auth(http, "council.lead")).status_code == 200
    # An action moved to the other agency takes its evidence's readers with it.
    world.client("sig").amend("R1.1", {"lead_agency": "police"}, "reassigned")
    assert http.get(f"/v1/evidence/{own}", headers=auth(http, "police.officer")).status_code == 200
    assert http.get(f"/v1/evidence/{own}", headers=auth(http, "council.lead")).status_code == 403
    assert http.get("/v1/evidence/" + "0" * 64, headers=auth(http, "chair")).status_code == 404


def test_an_erased_blob_is_still_named_and_answers_gone(world: World, http: Any) -> None:
    sha = attach(world, "R1.1", b"a child's name", "council.officer")
    world.client("admin").erase_evidence("R1.1", sha, "UK GDPR Art. 17 request")
    store = world.ledger.evidence
    assert store is not None
    store.erase(sha)  # type: ignore[attr-defined]
    assert [(u.action_id, u.erased) for u in evidence_uses(world.ledger, sha)] == [("R1.1", True)]
    assert named_evidence(world.ledger)[sha] == [("R1.1", True)]
    assert http.get(f"/v1/evidence/{sha}", headers=auth(http, "chair")).status_code == 410
    # Still scoped: another agency learns nothing, not even that it was erased.
    assert http.get(f"/v1/evidence/{sha}", headers=auth(http, "police.officer")).status_code == 403


def test_a_blob_attached_a_moment_ago_is_downloadable_at_once(world: World, http: Any) -> None:
    projector_for(world.ledger).catch_up(world.ledger)  # the projection is up to date...
    sha = attach(world, "R1.2", b"just now", "police.officer")  # ...and then the log grows
    got = http.get(f"/v1/evidence/{sha}", headers=auth(http, "police.officer"))
    assert got.status_code == 200 and got.content == b"just now"


def test_uses_and_exports_equal_the_full_replays_over_a_random_history(
    config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_store_settings(monkeypatch)
    world = make_world(config, clock)
    ledger = world.ledger
    asof_history.add_actions(world)
    rng = random.Random(17)  # every kind of step: attach, withdraw, erase, amend, merge...
    steps = [(rng.randrange(500), rng.randrange(5), rng.randrange(3)) for _ in range(250)]
    asof_history.run(world, steps)
    named = named_evidence(ledger)
    assert len(named) >= 5  # the history attached evidence, and erased some
    assert any(erased for uses in named.values() for _, erased in uses)
    for sha, expected in named.items():
        assert sorted((u.action_id, u.erased) for u in evidence_uses(ledger, sha)) == sorted(
            expected
        )
    moments = asof_history.cuts_in_time(world)
    for moment in [None, *moments[:: max(1, len(moments) // 25)]]:
        for agency in (None, "council", "police"):
            assert status_export_as_of(ledger, as_of=moment, agency=agency) == status_export(
                ledger.entries(), as_of=moment, agency=agency
            ), (moment, agency)
    ledger.close()


def test_tables_of_an_older_format_are_rebuilt_when_opened(world: World) -> None:
    from projections.projector import Projector

    ledger = world.ledger
    sha = attach(world, "R1.1", b"minutes", "council.officer")
    old = Projector(ledger, prefix="older")
    old.catch_up(ledger)
    with ledger.tables.transaction() as cursor:  # what the previous version left behind
        cursor.execute("DELETE FROM older_evidence")
        cursor.execute("DELETE FROM older_state WHERE key = 'format'")
    reopened = Projector(ledger, prefix="older")
    assert reopened.tables.high_water() == 0
    reopened.catch_up(ledger)
    scratch = Projector(ledger, prefix="scratch")
    scratch.rebuild(ledger)
    assert reopened.tables.dump() == scratch.tables.dump()
    assert [u.action for u in reopened.tables.evidence_uses(sha, bound=ledger.tree_size())]


def test_a_rendered_report_is_kept_and_a_grown_log_gets_a_new_one(
    world: World, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    render = report_route.render

    def counted(built: Any, fmt: str) -> Any:
        renders.append(fmt)
        return render(built, fmt)

    monkeypatch.setattr(report_route, "render", counted)
    chair = auth(http, "chair")
    params = {"as_of": world.clock.now.date().isoformat()}
    first = http.get("/v1/report", params=params, headers=chair)
    again = http.get("/v1/report", params=params, headers=chair)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and renders == ["html"]
    world.client("council.officer").comment("R1.1", "after the report")
    grown = http.get("/v1/report", params=params, headers=chair)
    assert grown.status_code == 200 and renders == ["html", "html"]
    assert int(grown.headers["X-Checkpoint-Size"]) == int(first.headers["X-Checkpoint-Size"]) + 1
    refused = http.get("/v1/report", params=params, headers=auth(http, "police.officer"))
    assert refused.status_code == 403
    assert renders == ["html", "html"]  # a refused request renders nothing


def test_the_kept_reports_stay_within_their_byte_budget() -> None:
    kept = RenderedReports(budget_bytes=10)
    made: list[str] = []

    def make(key: str, size: int) -> Any:
        def run() -> tuple[bytes, str]:
            made.append(key)
            return b"x" * size, "text/plain"

        return run

    assert kept.get("a", make("a", 4)) == (b"xxxx", "text/plain")
    kept.get("b", make("b", 4))
    kept.get("a", make("a", 4))  # a hit: "a" is now the most recently used
    kept.get("c", make("c", 4))  # over budget: "b" goes
    kept.get("big", make("big", 11))  # larger than the budget: returned, not kept
    assert len(kept) == 2 and made == ["a", "b", "c", "big"]
    kept.get("a", make("a", 4))
    kept.get("b", make("b", 4))
    assert made == ["a", "b", "c", "big", "b"]
