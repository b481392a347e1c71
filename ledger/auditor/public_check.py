"""Checking a public tracker page's JSON on one's own machine: the same checks the page's
own script makes in the reader's browser (api/http/pages/static/public.js), for machines.

Given the document a public JSON route answers (``{"view", "proofs", "keys"}``) and the
keys the reader pinned (the log's verifier key, any witnesses' cosigner keys), it checks:

1. the page's checkpoint is signed by the pinned log key;
2. each pinned witness cosigned the newest cosigned checkpoint the page carries, and that
   checkpoint is a prefix of the page's (RFC 9162 consistency proof);
3. every entry behind the page is in the tree (its leaf hash, computed here from its
   bytes, and its inclusion proof to the checkpoint's root);
4. every fact the view shows says what its entry says: type, log, aggregate (the action
   or the plan it is shown under), time and each member shown.

It cannot check that no entry was left out, nor who signed each entry: the full audit of
a bundle (`verify-bundle`) does. The keys the document states are never trusted: only
the pinned ones are used.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from ledger.auditor.cosignature import CosignerKey, cosigned_time
from ledger.auditor.errors import FormatError
from ledger.auditor.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.auditor.note import NoteError, VerifierKey, open_note

#: The namespace of aggregate ids (domain/ids.py): written here too, as the auditor
#: never imports the domain; tests/ledger/test_public_check.py holds the two equal.
AGGREGATE_NAMESPACE = UUID("6f1b7a52-1c3e-5d7a-9a52-6e9f1c0b7d21")
FORMAT = "inquiry-ledger/public-proofs/v1"


class PublicCheckFailed(Exception):
    """The page does not check out; the message names the first failure."""


@dataclass(frozen=True)
class Cosigned:
    witness: str
    time: int
    tree_size: int

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class PublicVerdict:
    tree_size: int
    origin: str
    entries: int
    facts: int
    cosigned: list[Cosigned] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        by = ", ".join(f"{c.witness} at {c.when}" for c in self.cosigned)
        return f"Verified against checkpoint {self.tree_size}" + (
            f", cosigned by {by}" if by else ""
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "verdict": self.sentence,
            "tree_size": self.tree_size,
            "origin": self.origin,
            "entries_proven": self.entries,
            "facts_checked": self.facts,
            "cosigned": [
                {"witness": c.witness, "time": c.time, "tree_size": c.tree_size}
                for c in self.cosigned
            ],
            "not_checked": ["that no entry was left out", "who signed each entry"],
        }


def aggregate_id(subject: str) -> str:
    """The aggregate id of the plan ("plan") or of an action (its id, e.g. R10.1)."""
    name = "plan" if subject == "plan" else f"action:{subject}"
    return str(uuid5(AGGREGATE_NAMESPACE, name))


def check_public(
    document: Any, log_key: VerifierKey, witnesses: list[CosignerKey]
) -> PublicVerdict:
    """The verdict on a public page's JSON; PublicCheckFailed naming the first failure."""
    try:
        return _check(document, log_key, witnesses)
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise PublicCheckFailed(f"the page's proof material is malformed ({error!r})") from None


def _check(document: Any, log_key: VerifierKey, witnesses: list[CosignerKey]) -> PublicVerdict:
    proofs = document["proofs"]
    if proofs.get("format") != FORMAT:
        raise PublicCheckFailed(f"not {FORMAT} proof material")
    size, root, origin = _checkpoint(proofs["checkpoint"]["note"], log_key)
    if size != proofs["checkpoint"]["tree_size"]:
        raise PublicCheckFailed("the checkpoint's size is not the one the page names")
    cosigned: list[Cosigned] = []
    if witnesses:
        found = proofs.get("cosigned")
        if not found:
            raise PublicCheckFailed("no witness has cosigned a checkpoint this page carries")
        old_size, old_root, _ = _checkpoint(found["note"], log_key)
        if not verify_consistency(old_size, size, old_root, root, _hashes(found["consistency"])):
            raise PublicCheckFailed(
                f"the cosigned checkpoint {old_size} is not a prefix of checkpoint {size}: "
                "the log was rewritten"
            )
        for witness in witnesses:
            try:
                at = cosigned_time(found["note"], witness)
            except NoteError as error:
                raise PublicCheckFailed(f"the cosigned checkpoint is malformed: {error}") from None
            if at is None:
                raise PublicCheckFailed(
                    f"witness {witness.name} has not cosigned checkpoint {old_size}"
                )
            cosigned.append(Cosigned(witness.name, at, old_size))
    entries: dict[int, dict[str, Any]] = {}
    for item in proofs["entries"]:
        leaf_index = int(item["leaf_index"])
        data = base64.b64decode(item["entry"], validate=True)
        if not verify_inclusion(leaf_index, size, leaf_hash(data), _hashes(item["proof"]), root):
            raise PublicCheckFailed(
                f"log entry {leaf_index} is not in the log at checkpoint {size}"
            )
        entries[leaf_index] = json.loads(data)
    facts = document["view"].get("entries", [])
    for fact in facts:
        entry = entries.get(fact["leaf_index"])
        if entry is None:
            raise PublicCheckFailed(
                f"the page shows log entry {fact['leaf_index']} without its proof"
            )
        _check_fact(fact, entry, origin)
    return PublicVerdict(size, origin, len(entries), len(facts), cosigned)


def _checkpoint(note: str, log_key: VerifierKey) -> tuple[int, bytes, str]:
    try:
        text = open_note(note, log_key)
    except (NoteError, FormatError) as error:
        raise PublicCheckFailed(
            f"the checkpoint is not signed by the pinned log key: {error}"
        ) from None
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise PublicCheckFailed("the checkpoint's body is malformed")
    return int(lines[1]), base64.b64decode(lines[2], validate=True), lines[0]


def _hashes(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item, validate=True) for item in items]


def _check_fact(fact: dict[str, Any], entry: dict[str, Any], origin: str) -> None:
    where = f"log entry {fact['leaf_index']}"
    if entry.get("type") != fact["type"]:
        raise PublicCheckFailed(f"{where} is a {entry.get('type')}, not the {fact['type']} shown")
    if entry.get("origin") != origin:
        raise PublicCheckFailed(f"{where} was made for another log ({entry.get('origin')})")
    if entry.get("aggregate_id") != aggregate_id(fact["subject"]):
        raise PublicCheckFailed(f"{where} is not about {fact['subject']}")
    if entry.get("timestamp") != fact["timestamp"]:
        raise PublicCheckFailed(
            f"{where} is dated {entry.get('timestamp')}, not {fact['timestamp']}"
        )
    payload = entry.get("payload") or {}
    for name, value in fact["shown"].items():
        if not _same(value, payload.get(name, _ABSENT)):
            raise PublicCheckFailed(f"{where}: its {name} is not what the page shows")


_ABSENT = object()


def _same(shown: Any, signed: Any) -> bool:
    """Shown equals signed; a shown object may leave members out (private ones)."""
    if isinstance(shown, dict):
        return isinstance(signed, dict) and all(
            k in signed and _same(v, signed[k]) for k, v in shown.items()
        )
    if isinstance(shown, list):
        return (
            isinstance(signed, list)
            and len(shown) == len(signed)
            and all(_same(a, b) for a, b in zip(shown, signed, strict=True))
        )
    return type(shown) is type(signed) and bool(shown == signed)
