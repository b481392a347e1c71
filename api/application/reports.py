"""The progress report and the status spreadsheet, from a ledger, for the CLI and the API.

Both front ends go through here so they build the same report from the same checkpoint
and write files the same way: completely or not at all.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from api.application.checkpoints import newest_checkpoint
from ledger.auditor.note import NoteSigner, VerifierKey
from ledger.config import LedgerConfig
from ledger.service import Ledger
from projections.report import ProgressReport, ReportError, build_report, checkpoint_info

REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def report_format(path: Path) -> str:
    """html or pdf from the output file's name; ReportError for anything else."""
    fmt = REPORT_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ReportError(f"the report is written as .html or .pdf, not {path.name!r}")
    return fmt


def progress_report(
    ledger: Ledger,
    config: LedgerConfig,
    *,
    as_of: datetime,
    since: datetime | None = None,
    signer: NoteSigner | None = None,
) -> ProgressReport:
    """The report from the newest signed checkpoint (its signature checked against the
    log's verifier key when this ledger has one). With the log key (`signer`: the server,
    or the CLI in local mode), a fresh checkpoint is signed first when the log has grown
    past the latest, so the report covers the whole log instead of citing an old tree;
    without it the report says how many entries came after the checkpoint it used."""
    stored = newest_checkpoint(ledger, signer)
    if stored is None:
        raise ReportError(
            "the log has no signed checkpoint yet: run inquiry-ledger checkpoint "
            "(or report --checkpoint) first"
        )
    verifier = _log_verifier(config)
    info = checkpoint_info(stored.note, ledger.tree_size(), verifier)
    return build_report(ledger, info, as_of=as_of, since=since)


def _log_verifier(config: LedgerConfig) -> VerifierKey | None:
    try:
        return VerifierKey.parse(config.log_vkey_path.read_text())
    except FileNotFoundError:
        return None


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside the destination, then rename: a reader never sees half a file.
    The file is readable by its owner only (mkstemp's 0600): a status export can name
    evidence, and widening access is the owner's decision."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
