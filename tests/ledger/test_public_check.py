"""The reader's check of a public page (ledger/auditor/public_check.py): an unaltered page
passes with the pinned keys, and each alteration a hostile server or network could make
is caught and named. The browser's own check (api/http/pages/static/public.js) is held to
the same cases in Chromium (tests/api/http/public/)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from domain import PLAN_ID, Status, action_aggregate_id
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.note import NoteSigner
from ledger.auditor.public_check import (
    AGGREGATE_NAMESPACE,
    PublicCheckFailed,
    aggregate_id,
    check_public,
)
from ledger.keys import KeyPair
from ledger.public_proofs import page_checkpoint, proof_material
from projections.public import plan_view, recommendation_view
from tests.support.world import ORIGIN, World


def who(user_id: str, signed_at: str) -> tuple[str, str | None]:
    return ("someone", None)


def page(world: World, number: int = 1) -> dict[str, Any]:
    at = page_checkpoint(world.ledger)
    assert at is not None
    view = recommendation_view(world.ledger, number, at.size, who)
    return {
        "view": view.to_json(),
        "proofs": proof_material(world.ledger, at, view.leaves),
        "keys": {},
    }


@pytest.fixture
def decided(world: World) -> World:
    officer = world.client("council.officer")
    officer.change_status("R1.1", Status.IN_PROGRESS, "Started the review")
    officer.change_status("R1.1", Status.BLOCKED, "Waiting for the police's data")
    world.add_action("R1.2", "police")
    world.client("police.officer").change_status("R1.2", Status.IN_PROGRESS, "Begun")
    world.checkpoint()
    return world


def test_the_namespace_is_the_domains() -> None:
    assert aggregate_id("plan") == str(PLAN_ID)
    assert aggregate_id("R10.1") == str(action_aggregate_id("R10.1"))
    from domain.ids import NAMESPACE

    assert AGGREGATE_NAMESPACE == NAMESPACE


def test_an_unaltered_page_checks_out(decided: World) -> None:
    found = page(decided)
    verdict = check_public(found, decided.vkey, [])
    assert verdict.tree_size == decided.ledger.tree_size()
    assert verdict.facts == len(found["view"]["entries"]) == 6
    assert verdict.sentence == f"Verified against checkpoint {verdict.tree_size}"
    at = page_checkpoint(decided.ledger)
    assert at is not None
    plan = plan_view(decided.ledger, at.size, who)
    whole = {"view": plan.to_json(), "proofs": proof_material(decided.ledger, at, plan.leaves)}
    assert check_public(whole, decided.vkey, []).facts == 3  # the import, two recommendations


def _entry(found: dict[str, Any], index: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(found["proofs"]["entries"][index]["entry"]))
    return data


def _set_entry(found: dict[str, Any], index: int, entry: dict[str, Any]) -> None:
    raw = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()
    found["proofs"]["entries"][index]["entry"] = base64.b64encode(raw).decode()


def _flip(text: str, at: int = 10) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at % len(raw)] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _reason(found: dict[str, Any]) -> None:
    entry = _entry(found, 3)
    entry["payload"]["reason"] = "Started on time"
    _set_entry(found, 3, entry)


def _shown(found: dict[str, Any]) -> None:
    found["view"]["entries"][3]["shown"]["reason"] = "Finished"


def _moved(found: dict[str, Any]) -> None:
    found["view"]["entries"][3]["subject"] = "R1.2"


def _dated(found: dict[str, Any]) -> None:
    found["view"]["entries"][3]["timestamp"] = "2020-01-01T00:00:00.000000Z"


def _retyped(found: dict[str, Any]) -> None:
    found["view"]["entries"][3]["type"] = "action.signed_off"


def _node(found: dict[str, Any]) -> None:
    proof = found["proofs"]["entries"][2]["proof"]
    proof[0] = _flip(proof[0])


def _leaf(found: dict[str, Any]) -> None:
    found["proofs"]["entries"][2]["leaf_index"] += 1
    found["view"]["entries"][2]["leaf_index"] += 1


def _note(found: dict[str, Any]) -> None:
    note = found["proofs"]["checkpoint"]["note"]
    found["proofs"]["checkpoint"]["note"] = note.replace("\n", "\n ", 1)


def _size(found: dict[str, Any]) -> None:
    found["proofs"]["checkpoint"]["tree_size"] -= 1


def _unproven(found: dict[str, Any]) -> None:
    del found["proofs"]["entries"][4]


ALTERATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "an entry's reason rewritten": (_reason, "is not in the log"),
    "a reason shown differently from its entry": (_shown, "its reason is not what the page shows"),
    "a decision shown under another action": (_moved, "is not about R1.2"),
    "a decision shown at another time": (_dated, "not 2020-01-01"),
    "a decision shown as another kind": (_retyped, "not the action.signed_off shown"),
    "an inclusion proof's node flipped": (_node, "is not in the log"),
    "a proof for another leaf": (_leaf, "is not in the log"),
    "the checkpoint's body altered": (_note, "not signed by the pinned log key"),
    "the checkpoint's size misnamed": (_size, "size is not the one the page names"),
    "a fact shown without its proof": (_unproven, "without its proof"),
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_each_alteration_is_caught_and_named(decided: World, alteration: str) -> None:
    found = page(decided)
    check_public(copy.deepcopy(found), decided.vkey, [])  # unaltered: passes
    alter, named = ALTERATIONS[alteration]
    alter(found)
    with pytest.raises(PublicCheckFailed, match=named):
        check_public(found, decided.vkey, [])


def test_another_log_key_is_refused(decided: World) -> None:
    other = NoteSigner(ORIGIN, KeyPair.generate()).verifier
    with pytest.raises(PublicCheckFailed, match="not signed by the pinned log key"):
        check_public(page(decided), other, [])


def test_malformed_material_is_a_failure_not_a_crash(decided: World) -> None:
    found = page(decided)
    found["proofs"]["entries"][0]["entry"] = "not base64!"
    with pytest.raises(PublicCheckFailed, match="malformed"):
        check_public(found, decided.vkey, [])
    with pytest.raises(PublicCheckFailed, match="not inquiry-ledger/public-proofs/v1"):
        check_public({"proofs": {}, "view": {}}, decided.vkey, [])


def _cosign(world: World, witness: Cosigner) -> int:
    stored = world.checkpoint()
    at = int(world.clock.now.timestamp())
    line = witness.cosign(note_body(stored.note), at)
    world.ledger.record_cosignature(stored.tree_size, witness.public.encode(), line, at)
    return int(stored.tree_size)


def test_witnesses_cosigned_an_earlier_prefix(decided: World) -> None:
    witness = Cosigner("witness.example/w1", KeyPair.generate())
    cosigned_size = _cosign(decided, witness)
    decided.client("council.officer").change_status("R1.1", Status.IN_PROGRESS, "Data arrived")
    decided.checkpoint()
    found = page(decided)
    assert found["proofs"]["cosigned"]["tree_size"] == cosigned_size
    assert found["proofs"]["checkpoint"]["tree_size"] == cosigned_size + 1
    verdict = check_public(copy.deepcopy(found), decided.vkey, [witness.public])
    assert [c.witness for c in verdict.cosigned] == ["witness.example/w1"]
    assert verdict.cosigned[0].tree_size == cosigned_size
    assert "cosigned by witness.example/w1 at " in verdict.sentence
    # A witness the reader pinned that never cosigned.
    stranger = Cosigner("witness.example/w2", KeyPair.generate())
    with pytest.raises(PublicCheckFailed, match="w2 has not cosigned"):
        check_public(copy.deepcopy(found), decided.vkey, [witness.public, stranger.public])
    # A consistency proof altered: the witnessed tree is no longer a prefix.
    forged = copy.deepcopy(found)
    forged["proofs"]["cosigned"]["consistency"][0] = _flip(
        forged["proofs"]["cosigned"]["consistency"][0]
    )
    with pytest.raises(PublicCheckFailed, match="not a prefix"):
        check_public(forged, decided.vkey, [witness.public])
    # The cosignature line altered.
    broken = copy.deepcopy(found)
    note = broken["proofs"]["cosigned"]["note"]
    line = note.rstrip("\n").rsplit("\n", 1)[1]
    name, blob = line.rsplit(" ", 1)
    broken["proofs"]["cosigned"]["note"] = note.replace(line, f"{name} {_flip(blob, 20)}")
    with pytest.raises(PublicCheckFailed, match="w1 has not cosigned"):
        check_public(broken, decided.vkey, [witness.public])


def test_no_cosigned_checkpoint_when_a_witness_is_pinned(decided: World) -> None:
    witness = Cosigner("witness.example/w1", KeyPair.generate())
    with pytest.raises(PublicCheckFailed, match="no witness has cosigned"):
        check_public(page(decided), decided.vkey, [witness.public])


def test_the_verdict_as_json(decided: World) -> None:
    verdict = check_public(page(decided), decided.vkey, []).to_json()
    assert verdict["ok"] is True and verdict["facts_checked"] == 6
    assert verdict["not_checked"] == ["that no entry was left out", "who signed each entry"]
