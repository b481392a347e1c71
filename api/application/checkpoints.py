"""What the log key signs beyond `Ledger.sign_checkpoint`: the newest checkpoint on
demand, the server's regular checkpoints, and the receipts the server answers with.

Only a caller that holds the log key (the server, or the CLI in local mode, both reading
HOME/keys/log.key) signs; everyone else reads what was signed. Export and the progress
report use the newest checkpoint: when the log has grown past it and the key is at hand,
they sign a fresh one first (`newest_checkpoint`) instead of refusing (export) or citing
an old one (the report).

Regular checkpoints: `serve` signs one by itself within `checkpoint_interval` seconds of
the log growing (LedgerConfig; INQUIRY_LEDGER_CHECKPOINT_INTERVAL, default 10, 0 = off),
so receipts' trees are soon under a stored checkpoint, witnesses always find a fresh one,
and nobody has to remember to run `checkpoint`. After each, `on_signed` is called: the
HTTP app (api/http/app.py) passes one that asks the configured witnesses to cosign it
over C2SP tlog-witness (INQUIRY_LEDGER_WITNESSES; api/application/witness_push.py,
served by `witness serve`). Witnesses may also pull (`witness cosign`, ledger/witness.py:
fetch the latest checkpoint and post the cosignature back, POST
/v1/checkpoints/{size}/cosignatures).

Receipts (`ServerReceipts`): the requests one process answers at the same moment share
one signed checkpoint, the current tree's, which holds every one of their leaves, with
each leaf's inclusion proof in it. Signing, reading the tree's state and the log key,
and the proof's hashes were each paid per request before (issue 18); a receipt is the
same receipt whichever other leaves its checkpoint also holds (ledger/receipt.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import cast

from ledger.auditor.note import NoteSigner
from ledger.config import LedgerConfig
from ledger.errors import LedgerError, WrongLogKey
from ledger.group_commit import GroupCommit, Pending
from ledger.keys import KeyFileError, KeyPair
from ledger.receipt import Receipted, RecentTree, receipted, with_receipts
from ledger.service import Appended, Ledger
from ledger.storage import StoredCheckpoint

log = logging.getLogger("inquiry_ledger.checkpoints")

#: One request's part of a group of receipts: the app's config and its appended entries.
_Asked = tuple[LedgerConfig, list[Appended]]


def held_log_signer(ledger: Ledger, config: LedgerConfig) -> NoteSigner | None:
    """The log key, if this side holds it (its file is there and readable), else None."""
    try:
        return NoteSigner(ledger.origin(), KeyPair.read(config.log_key_path))
    except (OSError, KeyFileError):
        return None


def newest_checkpoint(ledger: Ledger, signer: NoteSigner | None) -> StoredCheckpoint | None:
    """The latest stored checkpoint; with the log key, first a fresh one if the log has
    grown past it (sign_checkpoint reuses the latest when nothing was appended)."""
    latest = ledger.latest_checkpoint()
    if signer is not None and (latest is None or latest.tree_size < ledger.tree_size()):
        return ledger.sign_checkpoint(signer)
    return latest


def server_receipts(
    ledger: Ledger,
    config: LedgerConfig,
    appended: Sequence[Appended],
    recent: RecentTree | None = None,
) -> list[Receipted]:
    """The server's receipts for these appended entries: ONE checkpoint signature.

    The key is read per call (per group of requests), so a rotation (which replaces the
    key file) is picked up; a key the ledger no longer names is read once more, in case
    the rotation finished in between. The entries are appended by then: if no receipt can
    be signed, the answer says so by carrying none, rather than reporting a failed append."""
    for attempt in (1, 2):
        signer = held_log_signer(ledger, config)
        if signer is None:
            break
        try:
            return list(with_receipts(ledger, signer, appended, recent))
        except WrongLogKey:
            if attempt == 2:
                break
        except (LedgerError, ValueError) as error:
            log.warning("appended, but no receipt could be signed: %s", error)
            break
    return [receipted(a, None) for a in appended]


class ServerReceipts:
    """The receipts of concurrent requests, issued together (see the module docstring).

    Combined as the ledger combines appends (ledger/group_commit.py), without a timer: a
    request that finds no receipt being issued issues its own at once, with those of every
    request that queued meanwhile; requests that arrive while it signs are the next
    group. One client alone waits for nobody. Each request gets its own entries' receipts
    (or none, as `server_receipts` says), in its own order."""

    #: Leaves in one group at most: the proofs are read in one query (ledger/merkle.py).
    MAX_LEAVES = 4096

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        #: The last group's tree, reused while it holds every leaf (ledger/receipt.py).
        self._recent = RecentTree()
        self._group: GroupCommit[_Asked, list[Receipted]] = GroupCommit(
            self._issue, max_items=lambda asked: len(asked[1]), max_group_items=self.MAX_LEAVES
        )

    def issue(self, config: LedgerConfig, appended: Sequence[Appended]) -> list[Receipted]:
        """The receipts of one request's appended entries. `config` is the app's (the
        same for every request: the group is signed with the key it names). Results that
        already carry their receipts (issued with their group's append: `attach`) are
        answered as they are."""
        if not appended:
            return []
        if all(isinstance(a, Receipted) and a.receipt is not None for a in appended):
            return [cast(Receipted, a) for a in appended]
        return self._group.submit((config, list(appended)))

    def attach(self, config: LedgerConfig) -> None:
        """Issue the receipts of each group of appends as the ledger writes it, for all of
        its requests at once (`Ledger.finish_each_group`), so `issue` finds them there;
        one request's receipts stay those `server_receipts` gives. `detach` undoes it."""
        self.ledger.finish_each_group(lambda results: self._for_group(config, results))

    def detach(self) -> None:
        self.ledger.finish_each_group(None)

    def _for_group(
        self, config: LedgerConfig, results: list[list[Appended]]
    ) -> list[list[Appended]]:
        receipted = self.issue(config, [a for request in results for a in request])
        out: list[list[Appended]] = []
        start = 0
        for request in results:
            out.append(list(receipted[start : start + len(request)]))
            start += len(request)
        return out

    def _issue(self, group: Sequence[Pending[_Asked, list[Receipted]]]) -> None:
        everyone = [a for pending in group for a in pending.item[1]]
        receipts = server_receipts(self.ledger, group[0].item[0], everyone, self._recent)
        start = 0
        for pending in group:
            end = start + len(pending.item[1])
            pending.succeed(receipts[start:end])
            start = end


class RegularCheckpoints:
    """A daemon thread signing a checkpoint within `interval` seconds of the log growing.

    Started and stopped by the HTTP app's lifespan (api/http/app.py): `stop()` wakes the
    thread and waits for it, so the app never closes the ledger under a signature. Errors
    (the database down, a rotated key) are logged and retried at the next tick."""

    def __init__(
        self,
        ledger: Ledger,
        config: LedgerConfig,
        interval: float,
        on_signed: Callable[[StoredCheckpoint], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.interval = interval
        self.on_signed = on_signed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)

    def start(self) -> RegularCheckpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def tick(self) -> StoredCheckpoint | None:
        """Sign a checkpoint if the log has grown past the latest; return it, or None."""
        size, latest = self.ledger.tree_size(), self.ledger.latest_checkpoint()
        if size == 0 or (latest is not None and latest.tree_size >= size):
            return None
        signer = held_log_signer(self.ledger, self.config)
        if signer is None:
            log.warning("regular checkpoints: no log key at %s", self.config.log_key_path)
            return None
        stored = self.ledger.sign_checkpoint(signer)
        log.info("signed checkpoint %d", stored.tree_size)
        if self.on_signed is not None:
            self.on_signed(stored)  # witnesses: see the module's docstring
        return stored

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep signing later; a request would fail the same way now
                log.exception("regular checkpoints: signing failed")
