"""Every table in the ledger's database, as its owner declares it, in one list.

Each owner declares its own tables next to the code that uses them: the ledger its
event store, checkpoints, cosignatures, metadata and Merkle tree (`ledger.storage`),
the API its token hashes (`tokens`), answered commands (`idempotency`), browser
sessions (`sessions`), which agency uploaded which blob (`uploads`) and the wrapped
data keys of encrypted S3 evidence (`evidence_keys`), the as-of projection its indexed
tables (`projections.store`).
Backup and restore (`backup`) are given this list: what a backup copies, what a restore
creates and loads, and what it rebuilds or leaves out, follow each table's `backup`.
"""

from __future__ import annotations

from api.application.evidence_keys import EVIDENCE_DATA_KEYS
from api.application.idempotency import API_COMMANDS
from api.application.sessions import WEB_SESSIONS
from api.application.tokens import API_TOKENS
from api.application.uploads import EVIDENCE_UPLOADS
from ledger.storage import LEDGER_TABLES, Backup, TableSpec
from projections.store import table_names as projection_table_names


def projection_tables() -> list[TableSpec]:
    """The as-of projection's tables: derived from the log and rebuilt on demand by the
    projector (which creates them), so a backup leaves them out."""
    return [TableSpec(name, (), "", backup=Backup.OMIT) for name in projection_table_names()]


def all_tables() -> list[TableSpec]:
    """Every declared table, the ledger's first (the event store's leading)."""
    return [
        *LEDGER_TABLES,
        API_TOKENS,
        API_COMMANDS,
        WEB_SESSIONS,
        EVIDENCE_UPLOADS,
        EVIDENCE_DATA_KEYS,
        *projection_tables(),
    ]
