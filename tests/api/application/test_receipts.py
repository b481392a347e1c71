"""The client's receipts file, and checking that the log still holds every receipt:
an honest log passes; an operator who drops the last entries and re-signs checkpoints,
or rewrites them and grows the log again, is caught (api/application/receipts.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.application.commands import Client, local_receipts
from api.application.receipts import (
    RECEIPTS_ENV,
    LedgerLog,
    ReceiptBook,
    check_receipts,
    receipts_path,
)
from ledger.auditor.note import NoteSigner
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.verify import verify_ledger
from tests.support.rawdb import drop_last_entries
from tests.support.world import ORIGIN, World


def _client(world: World, user: str = "council.officer") -> Client:
    return Client(world.ledger, world.signer(user), local_receipts(world.ledger, world.log_signer))


def _kept(world: World, book: ReceiptBook, comments: int) -> None:
    client = _client(world)
    for i in range(comments):
        book.keep([client.comment("R1.1", f"note {i}")])


def test_where_receipts_are_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert receipts_path(home, "council.example/cse-inquiry", {}) == (
        home / "receipts" / "council.example_cse-inquiry.jsonl"
    )
    assert receipts_path(home, "../x:y\\z", {}).name == "_x_y_z.jsonl"
    chosen = tmp_path / "mine.jsonl"
    assert receipts_path(home, "a/b", {RECEIPTS_ENV: str(chosen)}) == chosen


def test_every_append_through_a_receipting_client_has_a_receipt(world: World) -> None:
    result = _client(world).comment("R1.1", "hello")
    assert result.receipt is not None  # type: ignore[attr-defined]
    assert result.receipt.leaf_index == result.leaf_index  # type: ignore[attr-defined]
    plain = world.client("council.officer").comment("R1.1", "no receipt asked for")
    assert getattr(plain, "receipt", None) is None  # the demo, import, benchmarks pay nothing


def test_the_book_keeps_and_reads_back_and_reports_bad_lines(world: World, tmp_path: Path) -> None:
    book = ReceiptBook(tmp_path / "r" / "receipts.jsonl")
    _kept(world, book, 3)
    kept, problems = book.read()
    assert problems == [] and [k.type for k in kept] == ["action.comment_added"] * 3
    assert [k.line for k in kept] == [1, 2, 3]
    with book.path.open("a") as handle:
        handle.write("\n{not json\n")
    kept, problems = book.read()
    assert len(kept) == 3 and len(problems) == 1 and ":5: not a receipt" in problems[0]
    assert ReceiptBook(tmp_path / "none.jsonl").read() == ([], [])


def test_an_honest_log_still_holds_every_receipt(world: World, tmp_path: Path) -> None:
    book = ReceiptBook(tmp_path / "receipts.jsonl")
    _kept(world, book, 4)
    kept, _ = book.read()
    pending = check_receipts(kept, world.vkey, LedgerLog(world.ledger))
    # the newest stored checkpoint is older than the receipts: checked the other way
    assert pending.ok and pending.pending == 4
    assert "newer than checkpoint" in pending.summary()
    newest = world.checkpoint()
    _client(world).comment("R1.1", "after the checkpoint")  # not in the book
    result = check_receipts(kept, world.vkey, LedgerLog(world.ledger))
    assert result.ok and result.pending == 0, result.problems
    assert result.summary() == (
        f"4 receipts checked: all still in the log under checkpoint {newest.tree_size}"
    )


def test_dropping_the_last_entries_and_re_signing_is_caught(world: World, tmp_path: Path) -> None:
    book = ReceiptBook(tmp_path / "receipts.jsonl")
    _kept(world, book, 1)  # a receipt for an entry that stays
    first = world.ledger.tree_size()
    _kept(world, book, 3)  # and three for entries the operator will drop
    world.checkpoint()
    kept, _ = book.read()
    assert check_receipts(kept, world.vkey, LedgerLog(world.ledger)).ok

    drop_last_entries(world.config, first)
    with Ledger(world.config) as shorter:
        shorter.sign_checkpoint(world.log_signer)  # the operator holds the log key
        assert verify_ledger(shorter, world.vkey, workers=1).ok  # verify alone cannot tell
        result = check_receipts(kept, world.vkey, LedgerLog(shorter))
    assert not result.ok
    assert len(result.problems) == 3, result.problems
    assert all("NO LONGER IN THE LOG AT ITS PLACE" in p for p in result.problems)
    assert {p.split(" (")[0] for p in result.problems} == {
        f"receipt for leaf {leaf}" for leaf in range(first, first + 3)
    }


def test_a_rewritten_tail_grown_past_the_receipts_is_caught(
    world: World, tmp_path: Path, clock: Any
) -> None:
    keep = world.ledger.tree_size()
    book = ReceiptBook(tmp_path / "receipts.jsonl")
    _kept(world, book, 2)
    kept, _ = book.read()
    drop_last_entries(world.config, keep)
    with Ledger(world.config, clock=clock) as rewritten:
        client = Client(rewritten, world.signer("council.officer"))
        for i in range(4):
            client.comment("R1.1", f"a milder note {i}")
        rewritten.sign_checkpoint(world.log_signer)
        result = check_receipts(kept, world.vkey, LedgerLog(rewritten))
    assert len(result.problems) == 2 and "the log was rewritten" in result.problems[0]


def test_a_receipt_signed_by_another_key_fails(world: World, tmp_path: Path) -> None:
    book = ReceiptBook(tmp_path / "receipts.jsonl")
    stranger = NoteSigner(ORIGIN, KeyPair.generate())
    client = Client(world.ledger, world.signer("council.officer"), _forger(world, stranger))
    book.keep([client.comment("R1.1", "signed by a stranger")])
    world.checkpoint()
    kept, _ = book.read()
    result = check_receipts(kept, world.vkey, LedgerLog(world.ledger))
    assert len(result.problems) == 1 and "does not verify" in result.problems[0]
    assert check_receipts([], world.vkey, LedgerLog(world.ledger)).ok


def _forger(world: World, signer: NoteSigner) -> Any:
    """Receipts signed by any key, without the ledger's check of the key (a forger's)."""
    from ledger.auditor.checkpoint import Checkpoint
    from ledger.auditor.receipt import Receipt
    from ledger.receipt import receipted

    ledger = world.ledger

    def issue(appended: Any) -> Any:
        size = ledger.tree_size()
        note = Checkpoint(ORIGIN, size, ledger.root_hash(size)).sign(signer)
        return [
            receipted(
                a,
                Receipt(
                    a.leaf_index,
                    ledger.tables.read_hashes([(0, a.leaf_index)])[0],
                    note,
                    tuple(ledger.inclusion_proof(a.leaf_index, size)),
                ),
            )
            for a in appended
        ]

    return issue
