"""As-of status from the indexed projection equals a full replay cut at the same place,
on SQLite and PostgreSQL; the projection catches up incrementally, survives racing
projectors and failed commits, and a rebuild from scratch holds exactly the same rows."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import Status
from ledger.service import Ledger
from projections.asof import replay_status, status_as_of
from projections.diff import diff_as_of, plan_diff
from projections.projector import Projector, projector_for
from projections.store import Batch, Change
from tests.support import asof_history
from tests.support.world import World, make_world

DAY0 = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    clock.now = DAY0
    w = make_world(config, clock)
    asof_history.add_actions(w)
    yield w
    w.ledger.close()


SCRIPT = [
    # (operation, action, hours): a history with every kind of correction in it
    ("start", "R1.1", 1),
    ("attach", "R1.1", 2),
    ("submit", "R1.1", 0),
    ("sign_agency", "R1.1", 24),
    ("return_group", "R1.1", 24),  # the group returns it: sign-offs cleared
    ("withdraw_evidence", "R1.1", 1),
    ("attach", "R1.1", 0),
    ("submit", "R1.1", 0),
    ("sign_agency", "R1.1", 5),
    ("revoke_agency", "R1.1", 1),  # the lead withdraws the claim
    ("sign_agency", "R1.1", 1),
    ("sign_group", "R1.1", 48),
    ("sign_chair", "R1.1", 48),
    ("revoke_chair", "R1.1", 2),  # the chair revokes the verification
    ("start", "R1.2", 0),
    ("rate_agency", "R1.2", 3),
    ("comment", "R1.2", 0),
    ("amend", "R1.2", 24),  # title and due date corrected later
    ("merge", "R1.2", 24),
    ("start", "R2.1", 1),
    ("not_implementable", "R2.1", 24),
    ("reopen", "R2.1", 24),
    ("withdraw", "R2.1", 24),
    ("move_agency", "R1.1", 1),  # reassigned to the police (not closed: allowed)
]


def _script(world: World) -> None:
    for n, (operation, action_id, hours) in enumerate(SCRIPT):
        world.clock.advance(hours=hours)
        assert asof_history.apply(world, operation, action_id, n), (n, operation)


def test_every_position_and_moment_matches_a_full_replay(world: World) -> None:
    _script(world)
    ledger = world.ledger
    size = ledger.tree_size()
    for position in range(size + 2):
        assert status_as_of(ledger, position=position) == replay_status(
            ledger, position=position
        ), f"position {position}"
    for moment in asof_history.cuts_in_time(world):
        assert status_as_of(ledger, as_of=moment) == replay_status(ledger, as_of=moment), moment
    both = asof_history.cuts_in_time(world)[len(SCRIPT) // 2]
    for position in (10, size // 2, size):
        assert status_as_of(ledger, as_of=both, position=position) == replay_status(
            ledger, as_of=both, position=position
        )
    assert status_as_of(ledger) == replay_status(ledger)


def test_later_corrections_do_not_leak_backwards(world: World) -> None:
    _script(world)
    # R1.2 was amended on the third day of its history and merged the day after.
    before_amendment = DAY0 + timedelta(hours=sum(h for _, _, h in SCRIPT[:17]))
    rows = {a.action_id: a for a in status_as_of(world.ledger, as_of=before_amendment).actions}
    assert rows["R1.2"].title == "Action R1.2" and rows["R1.2"].status == "in_progress"
    # The chair's verification was revoked; the two sign-offs beneath it stand.
    assert rows["R1.1"].signed_by == {"agency": "council.lead", "implementation_group": "sig"}
    assert rows["R1.1"].status == "accepted" and rows["R1.1"].verdict == "revoked"
    now = {a.action_id: a for a in status_as_of(world.ledger).actions}
    assert now["R1.2"].title.startswith("Amended title") and now["R1.2"].status == "merged"
    assert now["R1.1"].lead_agency == "police"
    assert rows["R1.1"].lead_agency == "council"


def test_incremental_catch_up_equals_a_rebuild_from_scratch(world: World) -> None:
    ledger = world.ledger
    for n, (operation, action_id, hours) in enumerate(SCRIPT):
        world.clock.advance(hours=hours)
        asof_history.apply(world, operation, action_id, n)
        if n % 3 == 0:
            projector_for(ledger).catch_up(ledger)  # the projection follows the log
    incremental = projector_for(ledger)
    incremental.catch_up(ledger)
    scratch = Projector(ledger, prefix="scratch", page=7)  # small pages: many commits
    scratch.rebuild(ledger)
    assert incremental.tables.dump() == scratch.tables.dump()
    assert incremental.tables.high_water() == ledger.tree_size()
    counts = incremental.tables.sizes()
    assert counts["changes"] == ledger.tree_size()
    # Comments and ratings that change nothing shown share the previous snapshot.
    assert counts["snapshots"] < counts["changes"]


def test_a_restarted_projector_continues_from_the_stored_mark(world: World) -> None:
    ledger = world.ledger
    _script(world)
    first = Projector(ledger, prefix="restart")
    first.catch_up(ledger)
    world.clock.advance(hours=1)
    assert asof_history.apply(world, "comment", "R1.1", 99)
    assert asof_history.apply(world, "rate_review", "R1.1", 100)
    # A new process: nothing in memory, every aggregate is rebuilt from the event store.
    with Ledger(world.config, clock=world.clock) as restarted:
        second = Projector(restarted, prefix="restart")
        second.catch_up(restarted)
        scratch = Projector(ledger, prefix="scratch")
        scratch.rebuild(ledger)
        assert second.tables.dump() == scratch.tables.dump()


def test_a_stale_or_failed_commit_writes_nothing(world: World) -> None:
    ledger = world.ledger
    projector = Projector(ledger, prefix="cas")
    projector.catch_up(ledger)
    before = projector.tables.dump()
    mark = projector.tables.high_water()
    change = Change(agg=0, leaf=mark, ts=0, version=99, snapshot=None)
    # Another projector has already moved the mark past 0: a batch starting at 0 is stale.
    assert not projector.tables.commit(Batch(0, mark + 1, [], [change], []))
    # A batch that fails half-way (a row that already exists) rolls back the mark too.
    duplicate = Change(agg=0, leaf=0, ts=0, version=1, snapshot=None)
    with pytest.raises(Exception):  # noqa: B017 - the backend's own integrity error
        projector.tables.commit(Batch(mark, mark + 1, [], [change, duplicate], []))
    assert projector.tables.dump() == before


def test_racing_projectors_neither_duplicate_nor_lose_rows(world: World) -> None:
    _script(world)
    ledgers = [Ledger(world.config, clock=world.clock) for _ in range(3)]
    projectors = [Projector(each, prefix="race", page=5) for each in ledgers]
    errors: list[BaseException] = []

    def work(projector: Projector, ledger: Ledger) -> None:
        try:
            projector.catch_up(ledger)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(projectors, ledgers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    scratch = Projector(world.ledger, prefix="scratch")
    scratch.rebuild(world.ledger)
    assert projectors[0].tables.dump() == scratch.tables.dump()
    for each in ledgers:
        each.close()


def test_diff_from_the_projection_equals_the_replayed_diff(world: World) -> None:
    _script(world)
    moments = asof_history.cuts_in_time(world)
    for start, end in [
        (moments[0], moments[-1]),
        (moments[5], moments[20]),
        (moments[len(moments) // 2], moments[-2]),
    ]:
        assert diff_as_of(world.ledger, start, end) == plan_diff(world.ledger.entries, start, end)
    with pytest.raises(ValueError):
        diff_as_of(world.ledger, moments[3], moments[3])


def test_bad_cuts_are_refused(world: World) -> None:
    with pytest.raises(ValueError):
        status_as_of(world.ledger, position=-1)
    with pytest.raises(ValueError):
        status_as_of(world.ledger, as_of=datetime(2023, 1, 1))


def test_cli_status_and_diff_answer_from_the_projection(cli: Any, clock: Any) -> None:
    clock.now = DAY0
    w = make_world(cli.config, clock)
    asof_history.add_actions(w)
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    w.ledger.close()
    code, out, err = cli("status", "--as-of", "2023-03-01", "--json")
    assert code == 0, err
    assert '"in_progress"' in out
    with Ledger(cli.config) as ledger:  # the CLI's status caught the projection up
        assert Projector(ledger).tables.high_water() == ledger.tree_size()
    code, out, _ = cli("status", "--position", "3", "--json")
    assert code == 0 and '"log_size": 3' in out and '"actions": []' in out
    code, _, err = cli("status", "--position", "-1")
    assert code == 2 and "--position" in err
    code, out, err = cli("diff", "--from", "2023-02-28", "--to", "2023-03-02")
    assert code == 0, err
    assert "action.status_changed by council.officer" in out


def test_the_api_status_answers_from_the_projection(world: World) -> None:
    from fastapi.testclient import TestClient

    from api.application.tokens import TokenStore
    from api.http.app import create_app

    _script(world)
    token = TokenStore(world.ledger.tables).create(
        "scrutiny", timedelta(days=1), now=world.clock.now
    )
    headers = {"Authorization": f"Bearer {token}"}
    middle = DAY0 + timedelta(days=4)
    with TestClient(create_app(world.config, world.ledger)) as http:
        by_time = http.get("/v1/status", params={"as_of": middle.isoformat()}, headers=headers)
        assert by_time.status_code == 200
        assert by_time.json() == replay_status(world.ledger, as_of=middle).to_json()
        by_position = http.get("/v1/status?position=30", headers=headers)
        assert by_position.json() == replay_status(world.ledger, position=30).to_json()
        assert http.get("/v1/status?position=-1", headers=headers).status_code == 422
        assert http.get("/v1/status?as_of=yesterday", headers=headers).status_code == 422


def test_a_background_catch_up_runs_and_stops_between_pages(world: World) -> None:
    _script(world)
    ledger = world.ledger
    stopped = threading.Event()
    stopped.set()
    early = Projector(ledger, prefix="background", page=5)
    assert early.catch_up(ledger, stop=stopped) == 0  # asked to stop before the first page
    thread, stop = early.catch_up_in_background(ledger)
    thread.join(timeout=60)
    assert not thread.is_alive() and not stop.is_set()
    assert early.tables.high_water() == ledger.tree_size()


def test_the_api_catches_the_projection_up_when_it_starts(world: World) -> None:
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    _script(world)
    tables = Projector(world.ledger).tables
    assert tables.high_water() == 0
    with TestClient(create_app(world.config, world.ledger)):  # no request is made
        deadline = time.monotonic() + 60
        while tables.high_water() < world.ledger.tree_size() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert tables.high_water() == world.ledger.tree_size()


def test_the_cli_catches_up_or_rebuilds_the_projection(cli: Any, clock: Any) -> None:
    w = make_world(cli.config, clock)
    asof_history.add_actions(w)
    size = w.ledger.tree_size()
    w.ledger.close()
    code, out, err = cli("projection")
    assert code == 0, err
    assert f"as-of projection covers {size} entries" in out and "caught up" in out
    code, out, err = cli("projection", "--rebuild")
    assert code == 0 and "rebuilt" in out
    code, _, err = cli("--server", "http://127.0.0.1:9", "--token", "t", "projection")
    assert code == 2 and "not in client mode" in err
