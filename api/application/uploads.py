"""Who may name a stored blob in an evidence entry: the agencies that hold its bytes.

The evidence store is content-addressed, so a blob's name is public knowledge to
anyone who has seen a hash (a timeline, an export, a colleague's e-mail). Were naming
enough, an officer of one agency could attach another agency's file to their own action
by its SHA-256 and then download it as evidence of their own. So an agency may name a
blob in an `evidence_attached` entry only if one of its users uploaded those bytes
(which proves they had them: `record` is called by the upload, after the store verified
the hash) or it may already read an action the blob is attached to (the read policy of
api/application/access.py: one rule for every read).

A refusal reads exactly like "not in the store", whether the blob exists or not, and
says nothing of its size: the refusal must not tell an agency what another one holds.

The table is the product's own record of uploads, kept with the ledger's tables and
copied by backups. Blobs attached before it existed are covered by the second rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from api.application.access import acts_for_agency, may_read_action
from domain import Action, Actor
from evidence_store.base import EvidenceError, EvidenceStore
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from ledger.auditor.entry import SignedEntry
from ledger.errors import InvalidEntry, MissingEvidence
from ledger.service import Ledger
from ledger.storage import LedgerTables, TableSpec
from projections.evidence import evidence_uses

EVIDENCE_UPLOADS = TableSpec(
    "evidence_uploads",
    (("sha256", "text"), ("agency", "text"), ("user_id", "text"), ("uploaded_at", "text")),
    "sha256, agency",
    (
        """CREATE TABLE IF NOT EXISTS evidence_uploads (
    sha256 TEXT NOT NULL, agency TEXT NOT NULL, user_id TEXT NOT NULL,
    uploaded_at TEXT NOT NULL, PRIMARY KEY (sha256, agency))""",
    ),
)

#: The agencies of the actions naming a blob (lead agency of each, None if unknown).
NamingLeads = Callable[[str], Iterable[str | None]]


class EvidenceUploads:
    """The (blob, agency) pairs whose bytes that agency uploaded."""

    def __init__(self, tables: LedgerTables) -> None:
        self.tables = tables
        tables.create_tables([EVIDENCE_UPLOADS])  # safe when several processes start at once

    def record(self, sha256: str, agency: str, user_id: str) -> None:
        """Remember that `agency` holds these bytes (the first upload's user and time)."""
        p = self.tables.p
        conflict = " ON CONFLICT (sha256, agency) DO NOTHING"
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO evidence_uploads VALUES ({p}, {p}, {p}, {p}){conflict}",
                (sha256, agency, user_id, datetime.now(UTC).isoformat()),
            )

    def holds(self, sha256: str, agency: str) -> bool:
        p = self.tables.p
        with self.tables.reading() as cursor:
            cursor.execute(
                f"SELECT 1 FROM evidence_uploads WHERE sha256={p} AND agency={p}", (sha256, agency)
            )
            return cursor.fetchone() is not None


def require_attachable(
    actor: Actor,
    entries: Sequence[SignedEntry],
    uploads: EvidenceUploads,
    naming_leads: NamingLeads,
) -> None:
    """MissingEvidence unless the actor's agency may name every blob these entries attach.

    Checked before the ledger's own check (which compares the stored size), so the size
    of a blob the agency may not name is never disclosed."""
    if not acts_for_agency(actor) or actor.agency is None:
        return  # only agencies attach; the domain's rules refuse anyone else
    for entry in entries:
        if entry.body.type != Action.EvidenceAttached.TYPE:
            continue
        sha256 = entry.body.payload.get("sha256")
        if not isinstance(sha256, str):
            continue  # malformed: the ledger refuses it with its own reason
        if uploads.holds(sha256, actor.agency):
            continue
        if any(may_read_action(actor, lead) for lead in naming_leads(sha256)):
            continue
        raise MissingEvidence(f"evidence {sha256} is not in the evidence store; upload it first")


def naming_leads_in(ledger: Ledger) -> NamingLeads:
    """The lead agencies of the actions that name a blob, now, from the as-of projection
    (one indexed seek, whatever the log's length: projections/evidence.py)."""

    def leads(sha256: str) -> list[str | None]:
        return [use.lead_agency or None for use in evidence_uses(ledger, sha256)]

    return leads


def require_true_media_types(store: EvidenceStore, entries: Sequence[SignedEntry]) -> None:
    """InvalidEntry unless each attached blob's signed `media_type` is what its first
    bytes say it is (evidence_store/sniff.py): the signed record tells a reader what the
    file is, so it must not be whatever the client claimed. Checked after
    `require_attachable`, so a refusal never describes a blob the agency may not name."""
    for entry in entries:
        if entry.body.type != Action.EvidenceAttached.TYPE:
            continue
        sha256, claimed = entry.body.payload.get("sha256"), entry.body.payload.get("media_type")
        if not isinstance(sha256, str):
            continue
        head = _head(store, sha256)
        if head is None:
            continue  # not stored: the ledger refuses it with its own reason
        actual = sniff_media_type(head)
        if claimed != actual:
            raise InvalidEntry(
                f"evidence {sha256} is {actual}, not {claimed!r}: the media type is read "
                "from the file, not taken from the client"
            )


def _head(store: EvidenceStore, sha256: str) -> bytes | None:
    """The blob's first SNIFF_BYTES (fewer if it is shorter), or None if it cannot be read."""
    head = b""
    try:
        chunks = store.read(sha256)
        try:
            for chunk in chunks:
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except EvidenceError:
        return None
    return head[:SNIFF_BYTES]
