"""Why the ledger refused an entry. Domain rule errors (domain.errors) pass through as they are."""

from __future__ import annotations

from uuid import UUID


class LedgerError(Exception):
    """Base of the ledger's own refusals; `code` is stable for APIs and scripts."""

    code = "ledger_error"


class InvalidEntry(LedgerError):
    code = "invalid_entry"


class SignatureRejected(LedgerError):
    code = "bad_signature"


class ClockSkew(LedgerError):
    code = "clock_skew"


class FutureFloor(ClockSkew):
    """A signer was asked to date its entry far ahead of its own clock (the aggregate's
    floor, ledger/timestamps.py): it signs nothing rather than follow a future-dated entry
    into the future, which would hide its own entry from answers as of today."""


class CosignedTooLate(LedgerError):
    """A cosignature's time is later than an entry the log recorded after that checkpoint:
    storing it would make the log break its own dating rule (ledger/timestamps.py)."""

    code = "cosigned_too_late"


class VersionConflict(LedgerError):
    """Someone else appended to the aggregate first; re-read it and sign again."""

    code = "version_conflict"

    def __init__(self, aggregate_id: UUID, current_version: int, message: str = "") -> None:
        super().__init__(
            message
            or f"aggregate {aggregate_id} is at version {current_version}; re-read and re-sign"
        )
        self.aggregate_id = aggregate_id
        self.current_version = current_version


class MissingEvidence(LedgerError):
    """An evidence event names a blob the evidence store does not hold (or not at that size)."""

    code = "missing_evidence"


class NotInitialised(LedgerError):
    code = "not_initialised"


class WrongLogKey(LedgerError):
    """A checkpoint was to be signed with a key other than the log key the ledger names."""

    code = "wrong_log_key"
