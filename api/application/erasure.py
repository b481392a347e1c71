"""Lawful erasure of evidence: either it completes, or what is left is reported and a
retry completes it. Never a signed erasure that a retry refuses while the blob stays
readable.

An erasure has two steps that cannot be one transaction: a signed entry in the log
(`action.evidence_erased`: who, which blob, the lawful reason) and an irreversible act
in the evidence store (a data key destroyed, or a plain blob deleted: evidence_store/
local.py and s3.py). The order chosen, and why:

1. The store is asked first whether it can erase at all (`check_erasable`). One that
   cannot (a plaintext S3 bucket under Object Lock; the server's store seen from a
   client) refuses, saying why, and nothing is recorded.
2. The entry is signed and appended. The ledger checks it like any other (an
   administrator, evidence attached to that action, not yet erased, a reason), so the
   irreversible act never runs unless its authority is in the log. Doing the store first
   would let a refused append (another role, a mistyped action, the database down)
   leave evidence destroyed for good with no signed word of who did it or why; that is
   the one failure that can neither be detected from the log nor undone.
3. The store erases. If it fails here (a crash, a full disk, the key store unreachable),
   the log says erased and the blob is still readable: `evidence verify` reports exactly
   that ("erasure recorded but still readable"), and running the same `evidence erase`
   again finds the erasure recorded and completes the store side, instead of being
   refused as "already erased". The store's `erase` is idempotent, so completing an
   erasure that did finish is harmless. Completing needs no second signature: the
   decision was signed in step 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.application.commands import Client
from evidence_store.base import ErasureIncomplete, ErasureUnsupported, check_sha256
from ledger.service import Appended


@dataclass(frozen=True)
class Erasure:
    sha256: str
    #: The entry appended now; None when this completed an erasure recorded earlier.
    appended: Appended | None
    #: What the store did, for the user.
    done: str


def erase(
    client: Client,
    store: Any,
    action_id: str,
    sha256: str,
    reason: str,
    *,
    recorded: Callable[[Appended], None] = lambda appended: None,
) -> Erasure:
    """Erase `sha256` of `action_id` (module docstring); `recorded` is told of the entry
    as soon as it is appended, before the store acts (the CLI keeps its receipt then).

    ErasureUnsupported if the store cannot erase (nothing recorded); the ledger's
    refusal if the entry is refused (nothing erased); ErasureIncomplete if the store
    failed after the entry was appended (run it again)."""
    check_sha256(sha256)
    check = getattr(store, "check_erasable", None)
    if check is None:
        raise ErasureUnsupported(
            "erasure destroys the blob in the server's evidence store, which a client "
            "cannot reach: run `inquiry-ledger evidence erase` on the server's host, "
            "without --server (nothing was recorded)"
        )
    check()
    appended = None
    if not _erasure_recorded(client, action_id, sha256):
        appended = client.erase_evidence(action_id, sha256, reason)
        recorded(appended)
    try:
        store.erase(sha256)
    except Exception as error:  # whatever failed, the user must learn the log is ahead
        where = "" if appended is None else f" (entry {appended.leaf_index})"
        raise ErasureIncomplete(
            f"the erasure of {sha256} is recorded in the log{where}, but the evidence store "
            f"did not complete it: {error}. The blob may still be readable; run the same "
            "command again to complete it (`evidence verify` reports it until then)"
        ) from error
    if store.encrypted:
        done = f"data key of {sha256} destroyed: the blob can no longer be read"
    else:
        done = f"blob {sha256} overwritten and deleted: it can no longer be read"
    return Erasure(sha256, appended, done)


def _erasure_recorded(client: Client, action_id: str, sha256: str) -> bool:
    """Whether the log already erased `sha256` of the action (then only the store's
    side can be left to do). Unknown action or evidence: False, and the append that
    follows is refused with the ledger's own message."""
    action = client.ledger.action(action_id)
    evidence = getattr(action, "evidence", None)
    if not isinstance(evidence, dict) or sha256 not in evidence:
        return False
    return getattr(evidence[sha256], "erased_at", None) is not None
