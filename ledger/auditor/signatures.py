"""Ed25519 checks of a bundle's entries on a pool of worker processes.

The auditor's own pool (`concurrent.futures`), so that it needs nothing of the ledger's
(ledger/sigpool.py serves the ledger's appends and `verify`).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ProcessPoolExecutor

from ledger.auditor.ed25519 import verify_signature
from ledger.auditor.findings import Finding


def failed_signatures(batch: list[tuple[int, bytes, bytes, bytes, str]]) -> list[Finding]:
    """The findings for the signatures in `batch` that do not verify (run in a worker)."""
    return [
        Finding(position, "bad signature", what)
        for position, public_key, signature, message, what in batch
        if not verify_signature(public_key, signature, message)
    ]


class SignatureChecks:
    """Ed25519 checks in worker processes, a batch at a time, while the main process reads
    and checks the entries that follow: on two cores the audit then costs about what the
    signatures alone cost. At most a few batches are in flight, so memory stays flat."""

    BATCH = 1024
    #: A batch holds each entry's signed bytes: bounded in bytes as well as in entries,
    #: so a few batches in flight stay a few MiB even of entries near limits.MAX_LINE.
    BATCH_BYTES = 1024 * 1024

    def __init__(self) -> None:
        workers = os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = (
            ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
        )
        self.in_flight = 2 * workers
        self.batch: list[tuple[int, bytes, bytes, bytes, str]] = []
        self.batch_bytes = 0
        self.pending: list[Future[list[Finding]]] = []
        self.failed: list[Finding] = []

    def add(
        self, position: int, public_key: bytes, signature: bytes, message: bytes, what: str
    ) -> None:
        self.batch.append((position, public_key, signature, message, what))
        self.batch_bytes += len(message)
        if len(self.batch) >= self.BATCH or self.batch_bytes >= self.BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        if self.pool is None:
            self.failed.extend(failed_signatures(batch))
            return
        if batch:
            self.pending.append(self.pool.submit(failed_signatures, batch))
        while len(self.pending) > self.in_flight:
            self.failed.extend(self.pending.pop(0).result())

    def abandon(self) -> None:
        """Stop: the audit ended early (a hostile bundle); nothing more is checked."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def finish(self) -> list[Finding]:
        self._flush()
        for future in self.pending:
            self.failed.extend(future.result())
        if self.pool is not None:
            self.pool.shutdown()
        return self.failed
