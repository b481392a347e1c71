"""What must hold after a run with crashes or outages, once every client command is settled
(see _client.py for "acknowledged", "refused" and "unknown"): the log holds exactly the
acknowledged entries, once each; it verifies; every blob an entry names is stored and
whole; every other stored blob is an orphan that a client uploaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from api.application.evidence import named_evidence, orphans, verify_evidence
from api.application.evidence_keys import TableKeyStore
from evidence_store.base import BlobStatus
from evidence_store.s3 import S3EvidenceStore
from ledger.auditor.entry import SignedEntry
from ledger.config import LedgerConfig
from ledger.service import Ledger
from ledger.verify import verify_ledger
from tests.support.reliability.client import Tally


def _read_keys_from_the_database(store: Any, ledger: Ledger) -> None:
    """The test opened its store from the environment, before the ledger, so an encrypted S3
    store would look for data keys in HOME/evidence-keys; the server keeps them in the
    ledger's database (api/application/evidence_keys.py), where they are read here too."""
    if isinstance(store, S3EvidenceStore) and store.encrypted:
        store.key_store = TableKeyStore(ledger.tables)


@dataclass
class RunResult:
    acknowledged: int = 0
    refused: int = 0
    replayed: int = 0
    entries_lost: int = 0
    evidence_named: int = 0
    orphans: set[str] = field(default_factory=set)


def check_run(
    config: LedgerConfig,
    world: Any,
    baseline: int,
    tally: Tally,
    store: Any,
    *,
    also_acknowledged: Iterable[str] = (),
) -> RunResult:
    """`also_acknowledged`: signatures (hex) of entries a test appended itself, with a 2xx."""
    acknowledged = tally.settled("acknowledged")
    refused = {c.signature for c in tally.settled("refused")}
    unknown = {c.signature for c in tally.settled("unknown") if c.signature}
    acked = {c.signature for c in acknowledged} | set(also_acknowledged)
    with Ledger(config, evidence=store) as ledger:
        _read_keys_from_the_database(store, ledger)
        logged = [
            SignedEntry.from_entry_bytes(data).signature.hex()
            for index, data in ledger.entries()
            if index >= baseline
        ]
        lost = acked - set(logged)
        assert not lost, f"{len(lost)} acknowledged entries are missing from the log"
        assert len(logged) == len(set(logged)), "an entry was stored twice"
        never_acked = set(logged) - acked - unknown
        assert not never_acked, (
            f"{len(never_acked)} entries in the log were never acknowledged: "
            + "; ".join(
                f"{c.kind} {c.outcome} {c.answers}"
                for c in tally.commands
                if c.signature in never_acked
            )
        )
        refused_logged = refused & set(logged)
        assert not refused_logged, "refused entries are in the log: " + "; ".join(
            f"{c.kind} {c.answers}" for c in tally.commands if c.signature in refused_logged
        )
        assert not unknown, f"{len(unknown)} commands were left unsettled"

        world.ledger = ledger
        world.checkpoint()
        report = verify_ledger(ledger, world.vkey)
        assert report.ok, report.problems[:5]

        evidence_report = verify_evidence(ledger, store)
        assert evidence_report.ok, evidence_report.problems[:5]
        named = set(named_evidence(ledger))
        stored = set(store.stored_hashes())
        found_orphans = set(orphans(ledger, store))
        assert named <= stored, "an entry names a blob that is not stored"
        assert found_orphans == stored - named
        assert found_orphans <= tally.uploads, "a blob nobody uploaded is stored"
        assert {c.sha256 for c in acknowledged if c.kind == "evidence"} <= named
        assert all(store.status(sha) is BlobStatus.OK for sha in stored), "a blob is not whole"
    return RunResult(
        acknowledged=len(acknowledged),
        refused=len(refused),
        replayed=sum(1 for c in acknowledged if c.replayed),
        entries_lost=len(lost),
        evidence_named=len(named),
        orphans=found_orphans,
    )
