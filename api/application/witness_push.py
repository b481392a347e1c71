"""The log's side of C2SP tlog-witness: after the server signs a checkpoint, it asks each
configured witness (INQUIRY_LEDGER_WITNESSES, ledger/config.py) to cosign it, and stores
every cosignature that verifies.

For each witness: the old size is the largest size that witness has a cosignature
stored for (0 if none), the body is that size, the consistency proof from it to the new
checkpoint, and the checkpoint (ledger/tlog_witness.py). A witness that has cosigned
another size answers 409 with it (it may be ahead of what the ledger stored, if a
cosignature was refused or posted elsewhere, or behind, if it lost its state): the push
is retried ONCE from that size. Every line of a 200 answer is opened with the witness's
configured key (ledger/auditor/cosignature.py) before `Ledger.record_cosignature`, whose
refusals (a time ahead of the ledger's clock, or contradicted by a later entry) stand.

Nothing here stops the checkpoint thread: a witness that is down, slow (the transport
has short timeouts), refuses (403 not our key, 404 unknown origin, 422 proof, 5xx) or
answers nonsense is logged and skipped, and the next witness is asked. The next
checkpoint asks it again. Logs name witnesses by URL and key name, never anything secret
(witness URLs may not carry credentials: ledger/config.py).

The HTTP client is injected (`WitnessPost`): this layer imports no HTTP client library
(the import contracts in pyproject.toml); the server's, over httpx, is api/http/app.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.auditor.cosignature import note_body, open_cosignature
from ledger.auditor.note import NoteError
from ledger.config import ConfiguredWitness
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.storage import StoredCheckpoint
from ledger.tlog_witness import (
    WireFormatError,
    build_add_checkpoint,
    is_size_type,
    parse_cosignatures,
    parse_size,
)

log = logging.getLogger("inquiry_ledger.witnesses")


@dataclass(frozen=True)
class WitnessAnswer:
    """What a witness answered: status, Content-Type (empty if none) and body."""

    status: int
    content_type: str
    body: bytes


class WitnessUnreachable(Exception):
    """The witness could not be asked: no connection, a timeout, a cut-off answer."""


class WitnessPost(Protocol):
    """POST `body` to `url`; the answer, or WitnessUnreachable. Short timeouts."""

    def __call__(self, url: str, body: bytes) -> WitnessAnswer: ...


class WitnessPush:
    """`on_signed` for RegularCheckpoints (api/application/checkpoints.py): ask every
    witness to cosign the checkpoint just signed. `push` asks one and says what came of it."""

    def __init__(
        self, ledger: Ledger, witnesses: Sequence[ConfiguredWitness], post: WitnessPost
    ) -> None:
        self.ledger = ledger
        self.witnesses = tuple(witnesses)
        self.post = post

    def __call__(self, stored: StoredCheckpoint) -> None:
        for witness in self.witnesses:
            try:
                self.push(witness, stored)
            except Exception:  # one witness (or a bug in handling it) never stops the rest
                log.exception(
                    "witness %s at %s: pushing checkpoint %d failed",
                    witness.key.name,
                    witness.url,
                    stored.tree_size,
                )

    def last_cosigned_size(self, witness: ConfiguredWitness) -> int:
        """The largest size this witness has a stored cosignature for; 0 if none."""
        key = witness.key.encode()
        sizes = [size for size, k, _ in self.ledger.tables.cosignatures() if k == key]
        return max(sizes, default=0)

    def push(self, witness: ConfiguredWitness, stored: StoredCheckpoint) -> bool:
        """Ask `witness` to cosign `stored`; True if a cosignature of it was recorded."""
        name, new_size = witness.key.name, stored.tree_size
        old_size = self.last_cosigned_size(witness)
        if old_size > new_size:
            old_size = 0  # a newer checkpoint is cosigned already: let the witness say
        answer = self._ask(witness, old_size, stored)
        if answer is None:
            return False
        if answer.status == 409 and is_size_type(answer.content_type):
            try:
                size = parse_size(answer.body)
            except WireFormatError as error:
                log.warning("witness %s at %s: a malformed 409: %s", name, witness.url, error)
                return False
            if size == old_size:
                # The sizes agree and the witness still refuses: the same size with
                # another root. It has a checkpoint this log did not sign, or the log
                # signed two: either way, not something a retry resolves.
                log.error(
                    "witness %s at %s refuses checkpoint %d as a conflict at its size %d: "
                    "it holds another checkpoint of that size (a split view?)",
                    name,
                    witness.url,
                    new_size,
                    size,
                )
                return False
            if size > new_size:
                log.warning(
                    "witness %s at %s has cosigned size %d, beyond checkpoint %d: nothing "
                    "to ask until the log grows past it",
                    name,
                    witness.url,
                    size,
                    new_size,
                )
                return False
            log.info(
                "witness %s at %s is at size %d: asking again from it", name, witness.url, size
            )
            answer = self._ask(witness, size, stored)
            if answer is None:
                return False
        if answer.status != 200:
            log.warning(
                "witness %s at %s refused checkpoint %d: HTTP %d %s",
                name,
                witness.url,
                new_size,
                answer.status,
                _REFUSALS.get(answer.status, ""),
            )
            return False
        return self._record(witness, stored, answer.body)

    def _ask(
        self, witness: ConfiguredWitness, old_size: int, stored: StoredCheckpoint
    ) -> WitnessAnswer | None:
        proof = self.ledger.consistency_proof(old_size, stored.tree_size)
        body = build_add_checkpoint(old_size, proof, stored.note)
        try:
            return self.post(witness.add_checkpoint_url, body)
        except WitnessUnreachable as error:
            log.warning("witness %s at %s: unreachable: %s", witness.key.name, witness.url, error)
            return None

    def _record(self, witness: ConfiguredWitness, stored: StoredCheckpoint, body: bytes) -> bool:
        """Store the first line of a 200 answer that is a valid cosignature by the
        witness's key. Lines by other keys are ignored (the spec: a witness may hold
        several); one that claims the key but does not verify is logged."""
        name = witness.key.name
        try:
            lines = parse_cosignatures(body)
        except WireFormatError as error:
            log.warning("witness %s at %s: a malformed answer: %s", name, witness.url, error)
            return False
        text = note_body(stored.note)
        for line in lines:
            try:
                at = open_cosignature(text, line, witness.key)
            except NoteError as error:
                if line.startswith(f"\u2014 {name} "):
                    log.warning("witness %s at %s: %s", name, witness.url, error)
                continue
            try:
                self.ledger.record_cosignature(stored.tree_size, witness.key.encode(), line, at)
            except LedgerError as error:  # ClockSkew, CosignedTooLate: the ledger's rules
                log.warning(
                    "witness %s cosigned checkpoint %d, but the ledger refused it: %s",
                    name,
                    stored.tree_size,
                    error,
                )
                return False
            log.info("witness %s cosigned checkpoint %d", name, stored.tree_size)
            return True
        log.warning(
            "witness %s at %s answered no valid cosignature by its key %s",
            name,
            witness.url,
            witness.key.encode(),
        )
        return False


_REFUSALS = {
    400: "(a request it could not parse)",
    403: "(the checkpoint is not signed by a log key it knows for this origin)",
    404: "(it does not follow this log's origin)",
    409: "(a conflict with what it has cosigned)",
    422: "(the consistency proof does not verify)",
}
