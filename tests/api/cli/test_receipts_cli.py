"""`receipts list` and `receipts check` in local mode, the receipts every appending
command keeps, and export and report using the newest checkpoint (signed first where
the log key is)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.cli.remote import _receipted
from domain import Action, action_aggregate_id
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import leaf_hash
from ledger.auditor.note import NoteSigner
from ledger.auditor.receipt import Receipt, ReceiptError
from ledger.keys import KeyPair
from ledger.service import Ledger
from tests.support.plan_tables import GOOD, write_csv
from tests.support.rawdb import drop_last_entries
from tests.support.world import ORIGIN, World, make_world


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def world(config: Any, cli: Any, tmp_path: Path) -> Iterator[World]:
    """A world on the real clock (the CLI signs with it), with the officer's key file."""
    w = make_world(config, _now)
    w.add_action("R1.1")
    w.keys["council.officer"].write(tmp_path / "officer.key")
    yield w
    w.ledger.close()


def _officer(tmp_path: Path) -> list[str]:
    return ["--as", "council.officer", "--key", str(tmp_path / "officer.key")]


def _comment(cli: Any, tmp_path: Path, text: str) -> str:
    code, out, err = cli(*_officer(tmp_path), "act", "R1.1", "comment", text)
    assert code == 0, err
    return str(out)


def test_each_append_keeps_its_receipt_and_check_passes(
    world: World, cli: Any, tmp_path: Path
) -> None:
    out = _comment(cli, tmp_path, "first")
    book = world.config.home / "receipts" / "test.example_ledger.jsonl"
    assert f"kept in {book}" in out and "receipt under checkpoint" in out
    _comment(cli, tmp_path, "second")
    lines = [json.loads(line) for line in book.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["action.comment_added"] * 2
    code, out, _ = cli("receipts", "list")
    assert code == 0 and "2 receipts in" in out and "action.comment_added v" in out
    code, out, err = cli("receipts", "check")
    assert code == 0, err
    assert "2 receipts checked: all still in the log;" in out  # newer than any stored one
    assert cli("checkpoint")[0] == 0
    size = world.ledger.tree_size()
    code, out, err = cli("receipts", "check", "--log-key", str(world.config.log_vkey_path))
    assert code == 0, err
    assert out.strip() == f"2 receipts checked: all still in the log under checkpoint {size}"


def test_dropping_the_last_entries_and_re_signing_fails_the_check(
    world: World, cli: Any, tmp_path: Path
) -> None:
    _comment(cli, tmp_path, "stays")
    keep = world.ledger.tree_size()
    _comment(cli, tmp_path, "will vanish")
    _comment(cli, tmp_path, "will vanish too")
    assert cli("checkpoint")[0] == 0
    assert cli("receipts", "check")[0] == 0
    drop_last_entries(world.config, keep)
    with Ledger(world.config) as shorter:
        shorter.sign_checkpoint(world.log_signer)  # the operator re-signs
    assert cli("verify", "--workers", "1")[0] == 0  # consistent on its own
    code, out, err = cli("receipts", "check")
    assert code == 1
    assert err.count("NO LONGER IN THE LOG AT ITS PLACE") == 2
    assert f"receipt for leaf {keep} " in err and f"receipt for leaf {keep + 1} " in err
    assert "3 receipts checked: 2 problem(s)" in out


def test_the_receipts_file_can_be_chosen_and_a_stranger_key_fails(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "elsewhere" / "mine.jsonl"
    monkeypatch.setenv("INQUIRY_LEDGER_RECEIPTS", str(chosen))
    assert f"kept in {chosen}" in _comment(cli, tmp_path, "here")
    assert len(chosen.read_text().splitlines()) == 1
    stranger = tmp_path / "stranger.vkey"
    stranger.write_text(NoteSigner(ORIGIN, KeyPair.generate()).verifier.encode() + "\n")
    code, _, err = cli("receipts", "check", "--log-key", str(stranger))
    assert code == 1 and "does not verify" in err
    code, out, _ = cli("receipts", "check", "--file", str(tmp_path / "none.jsonl"))
    assert code == 0 and "no receipts in" in out
    chosen.write_text(chosen.read_text() + "garbage\n")
    code, _, err = cli("receipts", "list")
    assert code == 1 and "not a receipt" in err


def test_export_signs_a_fresh_checkpoint_instead_of_refusing(
    world: World, cli: Any, tmp_path: Path
) -> None:
    world.checkpoint()
    _comment(cli, tmp_path, "after the checkpoint")
    code, out, err = cli("export", "--out", str(tmp_path / "bundle"))
    assert code == 0, err
    latest = world.ledger.latest_checkpoint()
    assert latest is not None and latest.tree_size == world.ledger.tree_size()
    assert f"exported {latest.tree_size} entries" in out


def test_the_report_uses_a_fresh_checkpoint_where_the_key_is(
    world: World, cli: Any, tmp_path: Path
) -> None:
    world.checkpoint()
    _comment(cli, tmp_path, "after the checkpoint")
    out_file = tmp_path / "r.html"
    code, out, err = cli("report", "--as-of", "2099-01-01", "--out", str(out_file))
    assert code == 0, err
    size = world.ledger.tree_size()
    assert f"signed checkpoint of size {size} (the log holds {size} entries)" in out
    assert "grown" not in out


def test_an_import_keeps_a_receipt_for_every_entry_it_appended(
    world: World, cli: Any, tmp_path: Path
) -> None:
    world.keys["sig"].write(tmp_path / "sig.key")
    rows = [{**GOOD, "action_id": "R1.2"}, {**GOOD, "action_id": "R1.3"}]
    table = write_csv(tmp_path / "actions.csv", list(GOOD), rows)
    code, out, err = cli("--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(table))
    assert code == 0, err
    assert "imported 2 entries" in out and "receipt under checkpoint" in out
    book = world.config.home / "receipts" / "test.example_ledger.jsonl"
    lines = [json.loads(line) for line in book.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["action.added"] * 2
    code, out, err = cli("receipts", "check")
    assert code == 0 and "2 receipts checked: all still in the log" in out, err


def test_a_receipt_for_another_log_is_refused_on_arrival(world: World) -> None:
    # A server that answers with a checkpoint of another log (any key, any name) would
    # have the receipt filed where `receipts check` never looks.
    r11 = action_aggregate_id("R1.1")
    entry = world.signer("chair").sign(
        Action.CommentAdded.TYPE, r11, world.ledger.next_entry(r11).version,
        {"kind": "comment", "text": "x"},
    )  # fmt: skip
    leaf = leaf_hash(entry.entry_bytes())
    note = Checkpoint("elsewhere", 1, leaf).sign(NoteSigner("elsewhere", KeyPair.generate()))
    answer = {
        "leaf_index": 0, "notification_id": 1, "type": entry.body.type,
        "aggregate_id": str(r11), "version": entry.body.version,
        "receipt": Receipt(0, leaf, note, ()).to_json(),
    }  # fmt: skip
    with pytest.raises(ReceiptError, match=r"not of 'test\.example/ledger'"):
        _receipted(answer, entry)
    assert _receipted({**answer, "receipt": None}, entry).receipt is None  # warned by the CLI
