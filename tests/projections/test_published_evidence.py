"""Which evidence is published, from the as-of projection (projections/evidence.py), on
SQLite and PostgreSQL: each file with its statement and the leaves of the entries that
attached and published it (what a public page proves), per action and per blob, as of a
position; unpublished, withdrawn and erased files drop out; a rebuild, a restarted
projector and a database written by the previous format give the same answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain import Status
from ledger.auditor.entry import SignedEntry
from ledger.service import Appended, Ledger
from projections.evidence import PublishedEvidence, is_published, published_evidence
from projections.projector import Projector, projector_for
from projections.store import FORMAT
from tests.support.world import World, make_world

STATEMENT = "I have read it: no personal data; it may be published."


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    w = make_world(config, clock)
    w.add_action("R1.1", "council")
    w.add_action("R1.2", "police")
    for action_id, agency in (("R1.1", "council"), ("R1.2", "police")):
        w.client(f"{agency}.officer").change_status(action_id, Status.IN_PROGRESS)
    yield w
    w.ledger.close()


def attach(world: World, action_id: str, content: bytes, by: str) -> tuple[str, int]:
    """(sha256, leaf of the attaching entry)."""
    sha = world.evidence(action_id, content, by=by)
    return sha, world.ledger.tree_size() - 1


def publish(world: World, action_id: str, sha: str, by: str, statement: str = STATEMENT) -> int:
    appended: Appended = world.client(by).publish_evidence(action_id, sha, statement)
    return appended.leaf_index


def entry_at(ledger: Ledger, leaf: int) -> SignedEntry:
    [(_, data)] = ledger.leaf_entries(leaf, leaf + 1)
    return SignedEntry.from_entry_bytes(data)


def listed(ledger: Ledger, **kwargs: Any) -> list[tuple[str, str, int, int]]:
    return [
        (p.action_id, p.sha256, p.attached_leaf, p.published_leaf)
        for p in published_evidence(ledger, **kwargs)
    ]


def answers(ledger: Ledger, shas: list[str]) -> Any:
    """Every answer the read functions give now and at each position."""
    size = ledger.tree_size()
    return [
        (
            published_evidence(ledger, position=n),
            published_evidence(ledger, "R1.1", position=n),
            [is_published(ledger, sha, position=n) for sha in shas],
        )
        for n in range(size + 1)
    ]


def test_a_published_file_is_listed_with_its_statement_and_both_entries(world: World) -> None:
    ledger = world.ledger
    minutes, attached = attach(world, "R1.1", b"council minutes", "council.officer")
    other, _ = attach(world, "R1.1", b"unpublished notes", "council.officer")
    assert published_evidence(ledger) == [] and not is_published(ledger, minutes)
    leaf = publish(world, "R1.1", minutes, "council.lead")
    [found] = published_evidence(ledger)
    assert isinstance(found, PublishedEvidence)
    assert (found.sha256, found.action_id, found.lead_agency) == (minutes, "R1.1", "council")
    assert (found.filename, found.media_type, found.size) == ("minutes.txt", "text/plain", 15)
    assert (found.description, found.effective_date) == ("Minutes", "2023-01-01")
    assert (found.statement, found.published_by) == (STATEMENT, "council.lead")
    assert (found.attached_leaf, found.published_leaf) == (attached, leaf)
    # The leaves are the entries a page proves: the attachment and the publication.
    attaching, publishing = entry_at(ledger, attached), entry_at(ledger, leaf)
    assert attaching.body.type == "action.evidence_attached"
    assert attaching.body.payload["sha256"] == minutes
    assert publishing.body.type == "action.evidence_published"
    assert publishing.body.payload == {"sha256": minutes, "statement": STATEMENT}
    assert found.published_at == publishing.body.timestamp
    assert is_published(ledger, minutes) and not is_published(ledger, other)
    assert not is_published(ledger, "0" * 64)


def test_per_action_per_blob_and_as_of_a_position(world: World) -> None:
    ledger = world.ledger
    council, c_att = attach(world, "R1.1", b"council minutes", "council.officer")
    police, p_att = attach(world, "R1.2", b"police report", "police.officer")
    # The same file attached to both actions: published on one only.
    shared, s_att = attach(world, "R1.1", b"joint protocol", "council.officer")
    _, s_att2 = attach(world, "R1.2", b"joint protocol", "police.officer")
    c_pub = publish(world, "R1.1", council, "council.lead")
    p_pub = publish(world, "R1.2", police, "police.lead")
    s_pub = publish(world, "R1.2", shared, "police.lead")
    assert listed(ledger) == [
        ("R1.1", council, c_att, c_pub),
        ("R1.2", police, p_att, p_pub),
        ("R1.2", shared, s_att2, s_pub),
    ]
    assert listed(ledger, action_id="R1.1") == [("R1.1", council, c_att, c_pub)]
    assert listed(ledger, action_id="R1.2") == [
        ("R1.2", police, p_att, p_pub),
        ("R1.2", shared, s_att2, s_pub),
    ]
    assert listed(ledger, action_id="R9.9") == []
    # As of a position: only publications inside the first N entries, every leaf below N.
    assert listed(ledger, position=c_pub) == []
    assert listed(ledger, position=c_pub + 1) == [("R1.1", council, c_att, c_pub)]
    assert listed(ledger, action_id="R1.2", position=p_pub) == []
    assert not is_published(ledger, shared, position=s_pub)
    assert is_published(ledger, shared, position=s_pub + 1)
    assert s_att < s_pub
    with pytest.raises(ValueError):
        published_evidence(ledger, position=-1)


def test_unpublished_withdrawn_and_erased_files_drop_out(world: World) -> None:
    ledger = world.ledger
    a, a_att = attach(world, "R1.1", b"first file", "council.officer")
    b, _ = attach(world, "R1.1", b"second file", "council.officer")
    c, _ = attach(world, "R1.2", b"police file", "police.officer")
    first = publish(world, "R1.1", a, "council.lead")
    publish(world, "R1.1", b, "council.lead")
    publish(world, "R1.2", c, "police.lead")
    assert [p.sha256 for p in published_evidence(ledger)] == [a, b, c]

    world.client("council.lead").unpublish_evidence("R1.1", a, "published in error")
    stopped = ledger.tree_size()
    assert [p.sha256 for p in published_evidence(ledger)] == [b, c]
    assert not is_published(ledger, a)
    assert is_published(ledger, a, position=stopped - 1)  # as it stood before
    again = publish(world, "R1.1", a, "council.lead", "Checked again: fine.")
    [found] = [p for p in published_evidence(ledger) if p.sha256 == a]
    assert (found.attached_leaf, found.published_leaf) == (a_att, again)
    assert found.statement == "Checked again: fine." and again > first

    world.client("council.officer").withdraw_evidence("R1.1", b, "superseded")
    assert not is_published(ledger, b)
    world.client("admin").erase_evidence("R1.2", c, "a child's personal data")
    assert not is_published(ledger, c)
    assert [p.sha256 for p in published_evidence(ledger)] == [a]
    # The withdrawn file attached again is a fresh item: not published until it is.
    _, b_att = attach(world, "R1.1", b"second file", "council.officer")
    assert not is_published(ledger, b)
    b_pub = publish(world, "R1.1", b, "council.lead")
    assert listed(ledger, action_id="R1.1")[-1] == ("R1.1", b, b_att, b_pub)


def _history(world: World) -> list[str]:
    """Publications, unpublications, a withdrawal and an erasure, across both actions."""
    a, _ = attach(world, "R1.1", b"first file", "council.officer")
    b, _ = attach(world, "R1.1", b"second file", "council.officer")
    c, _ = attach(world, "R1.2", b"police file", "police.officer")
    publish(world, "R1.1", a, "council.lead")
    world.client("council.officer").comment("R1.1", "a note between")
    publish(world, "R1.1", b, "council.lead")
    publish(world, "R1.2", c, "police.lead")
    world.client("council.lead").unpublish_evidence("R1.1", a, "in error")
    publish(world, "R1.1", a, "council.lead", "again")
    world.client("council.officer").withdraw_evidence("R1.1", b, "superseded")
    world.client("admin").erase_evidence("R1.2", c, "lawful reason")
    return [a, b, c]


def test_a_rebuild_and_a_restarted_projector_give_the_same_answers(world: World) -> None:
    ledger = world.ledger
    shas = _history(world)
    before = answers(ledger, shas)
    assert any(found for found, _, _ in before)  # not vacuous
    incremental = projector_for(ledger).tables.dump()
    scratch = Projector(ledger, prefix="scratch", page=3)  # small pages: leaves carried over
    scratch.rebuild(ledger)
    assert scratch.tables.dump() == incremental
    projector_for(ledger).rebuild(ledger)
    assert projector_for(ledger).tables.dump() == incremental
    assert answers(ledger, shas) == before
    with Ledger(world.config, clock=world.clock) as restarted:  # nothing in memory
        assert answers(restarted, shas) == before


def test_a_database_of_the_previous_format_is_rebuilt_with_the_new_columns(world: World) -> None:
    """The tables the previous release made (no publication leaves) are dropped and made
    again when a projector opens them, and filled from the log."""
    ledger = world.ledger
    _history(world)
    tail = "" if ledger.database.sql_dialect == "postgresql" else " WITHOUT ROWID"
    with ledger.database.transaction() as cursor:
        cursor.execute(
            "CREATE TABLE legacy_state (key TEXT PRIMARY KEY, high_water BIGINT NOT NULL)"
        )
        cursor.execute(
            "CREATE TABLE legacy_evidence (sha256 TEXT NOT NULL, agg BIGINT NOT NULL, "
            "leaf BIGINT NOT NULL, ts BIGINT NOT NULL, state TEXT NOT NULL, "
            "PRIMARY KEY (sha256, agg, leaf))" + tail
        )
        cursor.execute("INSERT INTO legacy_state VALUES ('log', 7)")
        cursor.execute(f"INSERT INTO legacy_state VALUES ('format', {FORMAT - 1})")
        cursor.execute("INSERT INTO legacy_evidence VALUES ('ab', 1, 1, 1, '{}')")
    legacy = Projector(ledger, prefix="legacy")
    assert legacy.tables.high_water() == 0  # emptied: nothing of the old rows is trusted
    legacy.catch_up(ledger)
    scratch = Projector(ledger, prefix="scratch")
    scratch.rebuild(ledger)
    assert legacy.tables.dump() == scratch.tables.dump()
    rows = legacy.tables.dump()["evidence"]
    assert rows and all(len(row) == 7 for row in rows)  # sha256 .. state, attached, published
    again = Projector(ledger, prefix="legacy")  # the current format: kept as it is
    assert again.tables.dump() == scratch.tables.dump()


def test_the_items_json_names_the_file_only_while_published(world: World) -> None:
    """The projection keeps an item's original name only while its publication's statement
    vouches for it (exports never show names)."""
    ledger = world.ledger
    sha, _ = attach(world, "R1.1", b"minutes", "council.officer")
    publish(world, "R1.1", sha, "council.lead")
    world.client("council.lead").unpublish_evidence("R1.1", sha, "in error")
    projector = projector_for(ledger)
    projector.catch_up(ledger)
    states = [json.loads(row[4]) for row in projector.tables.dump()["evidence"]]
    assert [s["published_name"] for s in states] == [None, "minutes.txt", None]
    assert [s["published_statement"] for s in states] == [None, STATEMENT, None]
