"""Is this exact signed batch already in the log? The answer for a retry after a lost reply.

An append commits the events, then the API records the command id with its answer. A
crash (or an outage) between the two leaves entries in the log whose command id is not
remembered; the client, which never got its 2xx, retries with the same command id and
the same signed bytes, and the ledger refuses it as a version conflict, because those
very entries took the versions. Without this check the client would be told "refused"
about entries that are in the log: an outcome it can never learn correctly.

Every entry names its aggregate and version inside the signed bytes, so "already
recorded" is exact: the stored row at (aggregate, version) holds these bytes. Ed25519
signatures are deterministic, so a retry re-sends identical bytes; a different entry at
that version (someone else's) does not match and the conflict stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ledger.auditor.entry import SignedEntry
from ledger.service import Appended, Ledger


def find_recorded(ledger: Ledger, entries: Sequence[SignedEntry]) -> list[Appended] | None:
    """Where each entry sits in the log, if every one is stored byte for byte; else None.

    A batch is appended atomically, so either all of it is there or none; a partial
    match means other entries took those versions, which is a real conflict."""
    found: list[tuple[SignedEntry, int]] = []
    for entry in entries:
        notification_id = _stored_notification(ledger, entry)
        if notification_id is None:
            return None
        found.append((entry, notification_id))
    results = []
    for entry, notification_id in found:
        leaf_index = ledger.tables.leaf_index_of(notification_id)
        if leaf_index is None:  # recorded just before a crash, not yet integrated
            ledger.integrate()
            leaf_index = ledger.tables.leaf_index_of(notification_id)
            if leaf_index is None:
                return None
        body = entry.body
        results.append(
            Appended(leaf_index, notification_id, body.type, body.aggregate_id, body.version)
        )
    return results


def _stored_notification(ledger: Ledger, entry: SignedEntry) -> int | None:
    """The notification id of the row at (aggregate, version) if it holds these bytes."""
    recorder = cast(Any, ledger.app.recorder)
    table = recorder.events_table_name
    body = entry.body
    tables = ledger.tables
    if tables.postgres:
        schema = cast(Any, recorder).datastore.schema
        statement = (
            f'SELECT notification_id, state FROM "{schema}"."{table}" '
            "WHERE originator_id = %s AND originator_version = %s"
        )
        params: tuple[Any, ...] = (body.aggregate_id, body.version)
    else:
        statement = (
            f"SELECT rowid AS notification_id, state FROM {table} "
            "WHERE originator_id = ? AND originator_version = ?"
        )
        params = (body.aggregate_id.hex, body.version)
    with tables.reading() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    # Both sides are canonical (RFC 8785): equal entries are equal bytes, and only them.
    if row is None or bytes(row["state"]) != entry.entry_bytes():
        return None
    return int(row["notification_id"])
