"""Group commit (ledger/group_commit.py): requests written together, each answered alone.

A group is handed to the ledger's writer directly here, so which requests share a
transaction is certain rather than a matter of thread timing; one test then drives the
combiner from many threads to show that groups do form under load."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from domain import Action, NotPermitted, action_aggregate_id
from ledger.errors import SignatureRejected, VersionConflict
from ledger.group_commit import GroupCommit, Pending
from ledger.service import Appended
from tests.support.world import World

START = {"from_status": "not_started", "to_status": "in_progress", "reason": ""}


def entry(world: World, user: str, kind: str, version: int, payload: dict[str, Any]) -> Any:
    return world.signer(user).sign(kind, action_aggregate_id("R1.1"), version, payload)


def comment(world: World, user: str, version: int, text: str = "noted") -> Any:
    return entry(world, user, Action.CommentAdded.TYPE, version, {"kind": "comment", "text": text})


def write(world: World, *requests: list[Any]) -> list[Pending[list[Any], list[Appended]]]:
    group: list[Pending[list[Any], list[Appended]]] = [Pending(list(r)) for r in requests]
    world.ledger._append_group(group)
    return group


def test_a_refused_request_does_not_fail_its_neighbours(world: World) -> None:
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    size = world.ledger.tree_size()
    first, refused, third = write(
        world,
        [entry(world, "council.officer", Action.StatusChanged.TYPE, v + 1, START)],
        [comment(world, "scrutiny", v + 2)],  # scrutiny does not comment: refused
        [comment(world, "council.officer", v + 2)],
    )
    assert isinstance(refused.error, NotPermitted)
    assert first.result is not None and third.result is not None
    assert [a.leaf_index for a in first.result + third.result] == [size, size + 1]
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == v + 2


def test_a_refused_request_leaves_no_trace_in_the_state_the_next_one_sees(
    world: World,
) -> None:
    """The refused request changed R1.1 (its first entry was fine) before its second
    entry failed: the request after it must see R1.1 as the first request left it."""
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    first, refused, third = write(
        world,
        [comment(world, "council.officer", v + 1, "one")],
        [comment(world, "council.officer", v + 2, "two"), comment(world, "scrutiny", v + 3)],
        [comment(world, "council.officer", v + 2, "three")],
    )
    assert first.error is None and third.error is None
    assert isinstance(refused.error, NotPermitted)
    texts = [
        e.text
        for e in world.ledger.aggregate_events(action_aggregate_id("R1.1"))
        if isinstance(e, Action.CommentAdded)
    ]
    assert texts == ["one", "three"]
    assert world.ledger.action("R1.1").comment_count == 2  # type: ignore[union-attr]


def test_a_bad_signature_is_its_own_requests_refusal(world: World) -> None:
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    good = comment(world, "council.officer", v + 1)
    forged = dataclasses.replace(comment(world, "council.officer", v + 2), signature=bytes(64))
    ok, bad = write(world, [good], [forged])
    assert ok.result is not None
    assert isinstance(bad.error, SignatureRejected)


def test_two_requests_for_the_same_version_one_wins(world: World) -> None:
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    won, lost = write(
        world,
        [comment(world, "council.officer", v + 1, "a")],
        [comment(world, "council.lead", v + 1, "b")],
    )
    assert won.result is not None
    assert isinstance(lost.error, VersionConflict)


def test_groups_form_under_load(world: World) -> None:
    """While one group is being written the others queue, and the next leader writes
    them all together; every thread gets its own leaf."""
    for n in range(2, 10):
        world.add_action(f"R1.{n}")
    gate = threading.Event()
    real = world.ledger._write_group
    writing = threading.Event()

    def slow_first(group: Any) -> Any:
        if not gate.is_set():
            writing.set()
            gate.wait(10)
        return real(group)

    world.ledger._write_group = slow_first  # type: ignore[method-assign]
    results: dict[str, list[Appended]] = {}

    def run(action_id: str) -> None:
        aggregate = action_aggregate_id(action_id)
        signed = world.signer("council.officer").sign(
            Action.CommentAdded.TYPE,
            aggregate,
            world.ledger.version_of(aggregate) + 1,
            {"kind": "comment", "text": action_id},
        )
        results[action_id] = world.ledger.append([signed])

    threads = [threading.Thread(target=run, args=(f"R1.{n}",)) for n in range(1, 10)]
    threads[0].start()
    assert writing.wait(10)  # the first request is being written, holding the lock
    for thread in threads[1:]:
        thread.start()
    combiner = world.ledger._group
    while len(combiner._queue) < 8:  # all eight others queued behind it
        threading.Event().wait(0.01)
    gate.set()
    for thread in threads:
        thread.join(10)
    leaves = sorted(r[0].leaf_index for r in results.values())
    assert len(leaves) == 9 and leaves == list(range(leaves[0], leaves[0] + 9))
    assert combiner.groups >= 2 and combiner.requests - combiner.groups >= 7


def test_the_combiner_fails_only_the_group_whose_writer_raised() -> None:
    calls: list[list[int]] = []

    def writer(group: Any) -> None:
        calls.append([p.item for p in group])
        if any(p.item == 13 for p in group):
            raise OSError("disk full")
        for p in group:
            p.succeed(p.item * 2)

    combiner: GroupCommit[int, int] = GroupCommit(writer)
    assert combiner.submit(2) == 4
    with pytest.raises(OSError, match="disk full"):
        combiner.submit(13)
    assert combiner.submit(3) == 6
    assert calls == [[2], [13], [3]]


def test_each_waiter_is_answered_and_the_lead_passes_down_the_queue() -> None:
    """Many threads at once: each gets its own answer, groups form, and whoever is left
    queued when a leader is answered writes next (no thread is left asleep)."""
    first_group = threading.Event()
    release = threading.Event()
    leaders: list[str] = []

    def writer(group: Any) -> None:
        leaders.append(threading.current_thread().name)
        if not first_group.is_set():
            first_group.set()
            release.wait(10)  # the others queue behind the first group meanwhile
        for p in group:
            p.succeed(p.item * 2) if p.item % 7 else p.fail(ValueError(p.item))

    combiner: GroupCommit[int, int] = GroupCommit(writer, max_requests=5)
    answers: dict[int, Any] = {}

    def run(n: int) -> None:
        try:
            answers[n] = combiner.submit(n)
        except ValueError as error:
            answers[n] = error

    threads = [threading.Thread(target=run, args=(n,), name=f"t{n}") for n in range(1, 41)]
    threads[0].start()
    assert first_group.wait(10)
    for thread in threads[1:]:
        thread.start()
    while len(combiner._queue) < 39:
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert {n: a for n, a in answers.items() if not isinstance(a, ValueError)} == {
        n: 2 * n for n in range(1, 41) if n % 7
    }
    assert sorted(n for n, a in answers.items() if isinstance(a, ValueError)) == [7, 14, 21, 28, 35]
    assert combiner.groups == 9 and combiner.requests == 40  # 1, then 39 in fives
    assert len(set(leaders)) > 1, "the lead was handed on"
    assert combiner.submit(3) == 6  # and nobody is left writing


def test_what_runs_after_a_group_answers_its_requests_once_the_next_leads() -> None:
    """`after` sees the group settled and may replace its results; the next group's
    leader has been rung before it runs (so the next group is written meanwhile)."""
    seen: list[tuple[list[int], bool]] = []

    def write(group: Any) -> None:
        for p in group:
            p.succeed(p.item)

    def after(group: Any) -> None:
        seen.append(([p.item for p in group], combiner._writing))
        for p in group:
            p.result = -p.item

    combiner: GroupCommit[int, int] = GroupCommit(write, after=after)
    assert combiner.submit(5) == -5
    assert seen == [([5], False)]  # nobody queued: the lead was given up before `after`


def test_a_ledger_group_is_finished_before_its_requests_are_answered(world: World) -> None:
    calls: list[list[int]] = []

    def finish(results: list[list[Appended]]) -> list[list[Appended]]:
        calls.append([len(r) for r in results])
        return [[dataclasses.replace(a, type=a.type + "!") for a in r] for r in results]

    world.ledger.finish_each_group(finish)
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    (appended,) = world.ledger.append([comment(world, "council.officer", v + 1)])
    assert appended.type == Action.CommentAdded.TYPE + "!" and calls == [[1]]

    def broken(results: list[list[Appended]]) -> list[list[Appended]]:
        raise OSError("no receipts today")

    world.ledger.finish_each_group(broken)
    (plain,) = world.ledger.append([comment(world, "council.officer", v + 2)])
    assert plain.type == Action.CommentAdded.TYPE and plain.leaf_index == appended.leaf_index + 1
    world.ledger.finish_each_group(None)


def test_an_entry_the_auditor_could_not_read_is_refused(world: World) -> None:
    """The auditor reads a bundle line of at most 4 MiB (ledger/auditor/limits.py): the
    ledger never writes a longer entry, so no honest log fails its own audit."""
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    huge = entry(
        world, "sig", Action.Amended.TYPE, v + 1,
        {"changes": {"lead_officers": ["x" * 190] * 24_000}, "reason": "restructure"},
    )  # fmt: skip
    (refused,) = write(world, [huge])
    assert refused.error is not None and "bytes; at most 4194304" in str(refused.error)
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == v


def comments(world: World, first_version: int, n: int, user: str = "council.officer") -> list[Any]:
    return [comment(world, user, first_version + i, f"c{first_version + i}") for i in range(n)]


def test_a_group_checks_its_signatures_in_one_batch(world: World) -> None:
    """Two requests of 40 entries (the second continuing the first): one batch on the
    process pool for the group, both appended in order."""
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    first, second = comments(world, v + 1, 40), comments(world, v + 41, 40)
    assert world.ledger._group_signatures([Pending(first), Pending(second)]) is not None
    one, two = write(world, first, second)
    assert one.result is not None and two.result is not None
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == v + 80


def test_a_forged_signature_in_a_group_fails_its_request_and_whoever_stood_on_it(
    world: World,
) -> None:
    """The forged request was accepted by the rules and the next request was checked on
    top of it; when its signature fails, nothing is recorded and each is checked again
    alone: the forgery is refused for its signature, the next for its version."""
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    first = comments(world, v + 1, 40)
    first[17] = dataclasses.replace(first[17], signature=bytes(64))
    second = comments(world, v + 41, 40)
    forged, dependent = write(world, first, second)
    assert isinstance(forged.error, SignatureRejected)
    assert isinstance(dependent.error, VersionConflict)
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == v


def test_a_refused_request_in_a_group_is_refused_for_its_signature_first(world: World) -> None:
    v = world.ledger.version_of(action_aggregate_id("R1.1"))
    good = comments(world, v + 1, 40)
    bad = comments(world, v + 41, 30)
    bad[3] = dataclasses.replace(bad[3], signature=bytes(64))
    bad.append(comment(world, "scrutiny", v + 71))  # a rule refusal after the forgery
    ok, refused = write(world, good, bad)
    assert ok.result is not None and len(ok.result) == 40
    assert isinstance(refused.error, SignatureRejected)
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == v + 40
