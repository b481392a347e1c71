"""The action-verb catalogue (api/application/verbs.py) is the one list both front doors use:
every verb is a sub-command of the CLI's `act` and calls the Client method the catalogue
names; every form the web pages offer is a verb of it; and for the same inputs, the CLI
and the web's prepare-for-signing build the same body, byte for byte, and so the same
signature."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.application.commands import Client
from api.application.prepare import COMMANDS, offered, prepare
from api.application.verbs import BLOB_RECORD, BY_NAME, FILE, VERBS, Verb
from api.cli.act import perform, values
from api.cli.main import build_parser
from domain import Status
from evidence_store.local import LocalEvidenceStore
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from ledger.auditor.entry import SignedEntry
from ledger.service import Appended, Ledger
from ledger.signer import Signer
from ledger.timestamps import NextEntry
from tests.support.world import ORIGIN, World, clear_store_settings, make_world

#: A command line for each verb, after `act ACTION VERB`.
SAMPLE_ARGV: dict[str, list[str]] = {
    "start": [],
    "submit": [],
    "block": ["--reason", "r"],
    "unblock": ["--reason", "r"],
    "reopen": ["--reason", "r"],
    "revoke-sign-off": ["--reason", "r"],
    "withdraw": ["--reason", "r"],
    "outcome": ["superseded", "--reason", "r"],
    "sign-off": ["--statement", "s"],
    "return": ["--reason", "one", "--reason", "two"],
    "rate": ["amber", "--reason", "r"],
    "comment": ["t"],
    "challenge": ["t"],
    "update": ["--period", "2023-H1", "--done", "d"],
    "assign": ["officer.two"],
    "amend": ["--set", "title=New", "--set", "lead_officers=A; B", "--reason", "r"],
    "merge": ["R1.2", "--reason", "r"],
    "transfer": ["--to", "police", "--reason", "r"],
    "attach": ["minutes.txt", "--description", "d", "--effective-date", "2023-01-01"],
    "withdraw-evidence": ["0" * 64, "--reason", "r"],
    "publish-evidence": ["0" * 64, "--statement", "no personal data"],
    "unpublish-evidence": ["0" * 64, "--reason", "r"],
    "respond": ["--response", "accepted", "--on", "2023-03-01", "--responder", "Home Office"],
}


def _act_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    act: argparse.ArgumentParser = commands.choices["act"]
    return act


def _act_verbs() -> list[str]:
    verbs = next(a for a in _act_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(verbs.choices)


@dataclass
class Recorder:
    """Stands in for `Client`: records which method a verb calls, with what."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, method: str) -> Any:
        def call(action_id: str, **kwargs: Any) -> Appended:
            self.calls.append((method, action_id, kwargs))
            return Appended(0, 0, "", UUID(int=0), 1)

        return call


def test_every_verb_of_the_catalogue_is_a_subcommand_of_act_in_its_order() -> None:
    assert _act_verbs() == [v.name for v in VERBS]
    assert set(SAMPLE_ARGV) == set(BY_NAME)


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v.name)
def test_the_cli_reads_each_verb_and_calls_the_client_method_the_catalogue_names(
    verb: Verb,
) -> None:
    args = build_parser().parse_args(["act", "R1.1", verb.name, *SAMPLE_ARGV[verb.name]])
    given = values(verb, args)
    assert set(given) == {a.name for a in verb.args}
    if verb.uploads:  # the CLI stores the file first; the call takes the stored blob's record
        given["file"] = dict.fromkeys(BLOB_RECORD, "x")
    recorder = Recorder()
    verb.call(recorder, "R1.1", given)  # type: ignore[arg-type]
    [(method, action_id, kwargs)] = recorder.calls
    assert (method, action_id) == (verb.method, "R1.1")
    assert getattr(Client, method)  # a real Client method
    if not verb.uploads:  # attach's file is stored by the CLI before this call is made
        recorder = Recorder()
        perform(recorder, args)  # type: ignore[arg-type]
        assert recorder.calls == [(method, action_id, kwargs)]


def test_the_catalogue_maps_arguments_as_the_cli_always_has() -> None:
    def call(name: str) -> tuple[str, dict[str, Any]]:
        args = build_parser().parse_args(["act", "R1.1", name, *SAMPLE_ARGV[name]])
        recorder = Recorder()
        perform(recorder, args)  # type: ignore[arg-type]
        method, _, kwargs = recorder.calls[0]
        return method, kwargs

    assert call("start") == ("change_status", {"to_status": Status.IN_PROGRESS})
    assert call("reopen") == ("change_status", {"to_status": Status.IN_PROGRESS, "reason": "r"})
    assert call("outcome") == ("change_status", {"to_status": Status.SUPERSEDED, "reason": "r"})
    assert call("challenge") == ("comment", {"text": "t", "challenge": True})
    assert call("comment") == ("comment", {"text": "t"})
    assert call("return") == ("return_action", {"reasons": ["one", "two"]})
    assert call("amend") == (
        "amend",
        {"changes": {"title": "New", "lead_officers": ["A", "B"]}, "reason": "r"},
    )
    args = build_parser().parse_args(["act", "R1.1", "sign-off"])
    assert values(BY_NAME["sign-off"], args) == {"statement": ""}
    response = {"response": "accepted", "responded_on": "2023-03-01", "responder": "Home Office"}
    assert call("respond") == ("respond_to_action", {**response, "reasons": "", "source": ""})
    narrative = {"period": "2023-H1", "done": "d", "next": "", "risks": ""}
    assert call("update") == ("narrative_update", narrative)


def test_every_form_the_pages_offer_is_a_verb_of_the_catalogue() -> None:
    offered_by_pages = {v.web_name for v in VERBS if v.form is not None}
    assert set(COMMANDS) == offered_by_pages
    for name, command in COMMANDS.items():
        assert command.verb is BY_NAME[command.verb.name] and command.verb.web_name == name
        assert command.event_type == command.verb.event_type
        assert [f.name for f in command.fields] == [a.name for a in command.verb.args]
    assert list(COMMANDS)[:3] == ["start", "submit", "attach"]  # the page's order


@dataclass
class Recording:
    """A ledger port that appends for real and keeps what it appended."""

    ledger: Ledger
    appended: list[SignedEntry] = field(default_factory=list)

    def next_entry(self, aggregate_id: UUID) -> NextEntry:
        return self.ledger.next_entry(aggregate_id)

    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]:
        self.appended.extend(entries)
        return self.ledger.append(entries)

    def role_of(self, user_id: str) -> Any:
        return self.ledger.role_of(user_id)

    def action(self, action_id: str) -> Any:
        return self.ledger.action(action_id)


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def test_the_cli_and_prepare_sign_the_same_body_for_every_verb_the_pages_offer(
    world: World, tmp_path: Path
) -> None:
    store = LocalEvidenceStore(world.config.evidence_dir)
    minutes = tmp_path / "minutes.txt"
    content = b"Minutes of the first meeting of the group."
    minutes.write_bytes(content)
    blob = store.put(minutes.open("rb"))
    record = {
        "sha256": blob.sha256,
        "size": len(content),
        "media_type": sniff_media_type(content[:SNIFF_BYTES]),
        "original_name": "minutes.txt",
        "storage_key": blob.storage_key,
    }
    officer, lead, group = "council.officer", "council.lead", "sig"
    # (who, the CLI's words after `act R1.1`, the web form's inputs), in an order the
    # domain's rules accept.
    steps: list[tuple[str, list[str], dict[str, Any]]] = [
        (officer, ["start"], {}),
        (
            officer,
            ["block", "--reason", "Waiting for the police"],
            {"reason": "Waiting for the police"},
        ),
        (officer, ["unblock", "--reason", "Data arrived"], {"reason": "Data arrived"}),
        (
            officer,
            ["attach", str(minutes), "--description", "Minutes", "--effective-date", "2023-01-01"],
            {**record, "description": "Minutes", "effective_date": "2023-01-01"},
        ),
        (officer, ["comment", "First meeting held"], {"text": "First meeting held"}),
        (
            officer,
            ["update", "--period", "2023-H1", "--done", "Group met", "--risks", "Vacancy"],
            {"period": "2023-H1", "done": "Group met", "risks": "Vacancy"},
        ),
        (group, ["challenge", "Who attended?"], {"text": "Who attended?"}),
        (
            lead,
            ["rate", "amber", "--reason", "On track"],
            {"rating": "amber", "reason": "On track"},
        ),
        (officer, ["submit"], {}),
        (lead, ["sign-off", "--statement", "Complete ✓"], {"statement": "Complete ✓"}),
        (
            group,
            ["return", "--reason", "Attendance missing", "--reason", "No date"],
            {"reasons": "Attendance missing\nNo date"},
        ),
    ]
    covered = set()
    for user, argv, inputs in steps:
        key = world.keys[user]
        who, _ = world.ledger.require_directory().resolve(user, key.key_id)
        name = BY_NAME[argv[0]].web_name
        assert name in {c.name for c in offered(world.ledger, who, "R1.1")}, (user, name)
        body = prepare(world.ledger, who, key.key_id, "R1.1", name, inputs)

        args = build_parser().parse_args(["act", "R1.1", *argv])
        port = Recording(world.ledger)

        def fixed(moment: datetime = body.timestamp) -> datetime:
            return moment  # a fixed clock: the CLI dates its entry as prepare did

        signer = Signer(user, key, ORIGIN, clock=fixed)
        perform(Client(port, signer), args, store)
        [entry] = port.appended
        assert entry.body.signing_bytes() == body.signing_bytes(), name
        assert entry.signature == SignedEntry.sign(body, key).signature
        covered.add(name)
    assert covered == set(COMMANDS)
    action = world.ledger.action("R1.1")
    assert action is not None and action.status is Status.IN_PROGRESS  # returned


def test_only_attach_uploads_a_file() -> None:
    assert [v.name for v in VERBS if v.uploads] == ["attach"]
    assert [a.name for a in BY_NAME["attach"].args if a.kind == FILE] == ["file"]
