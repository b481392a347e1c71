"""The progress report and the status spreadsheet, from a ledger, for the CLI and the API.

Both front ends go through here so they build the same report from the same checkpoint
and write files the same way: completely or not at all.

Rendering is what a report costs: gathering its figures from the as-of projection takes
tens of milliseconds, laying it out as PDF seconds of CPU (WeasyPrint: CSS cascade, line
breaking and table layout over every row). A report is a pure function of the checkpoint
it cites, the log's size, its as-of and since dates and its format, so the API keeps
the rendered documents (`rendered_report`): asking again costs a dictionary lookup, and
one process renders one report at a time, so a burst of requests takes one core, not all.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from api.application.checkpoints import newest_checkpoint
from ledger.auditor.note import NoteSigner, VerifierKey
from ledger.config import LedgerConfig
from ledger.service import Ledger
from projections.report import (
    CheckpointInfo,
    ProgressReport,
    ReportError,
    build_report,
    checkpoint_info,
)

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
    info = _report_checkpoint(ledger, config, signer)
    return build_report(ledger, info, as_of=as_of, since=since)


@dataclass(frozen=True)
class RenderedReport:
    content: bytes
    media_type: str
    checkpoint: CheckpointInfo


#: (report, format) -> (content, media type): `projections.report_render.render`, given by
#: the front end (this layer imports no template engine).
Renderer = Callable[[ProgressReport, str], tuple[bytes, str]]


def rendered_report(
    ledger: Ledger,
    config: LedgerConfig,
    *,
    as_of: datetime,
    since: datetime | None = None,
    signer: NoteSigner | None = None,
    fmt: str,
    render: Renderer,
) -> RenderedReport:
    """`progress_report` rendered as `fmt` (html or pdf), kept per ledger: the same
    checkpoint, log size, dates and format give the same bytes without building or
    rendering again. The checkpoint is found (and signed, with `signer`) as for
    `progress_report`, so a grown log still gets a fresh report."""
    info = _report_checkpoint(ledger, config, signer)
    key = (
        info.origin,
        info.size,
        info.root_hash,
        info.log_size,
        as_of.isoformat(),
        None if since is None else since.isoformat(),
        fmt,
    )

    def make() -> tuple[bytes, str]:
        return render(build_report(ledger, info, as_of=as_of, since=since), fmt)

    content, media_type = _rendered_for(ledger).get(key, make)
    return RenderedReport(content, media_type, info)


class RenderedReports:
    """Rendered reports by what determines them, the most recently used first out of a
    byte budget (a report larger than the budget is rendered, returned and not kept).
    Renders run one at a time (one lock), and a request that waited for the lock looks
    again before rendering, so a burst of identical requests renders once."""

    def __init__(self, budget_bytes: int = 64 * 1024 * 1024) -> None:
        self.budget = budget_bytes
        self._kept: OrderedDict[Any, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # guards the dictionary
        self._rendering = threading.Lock()  # one render at a time

    def get(self, key: Any, make: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        found = self._lookup(key)
        if found is not None:
            return found
        with self._rendering:
            found = self._lookup(key)
            if found is not None:
                return found
            made = make()
            self._keep(key, made)
            return made

    def __len__(self) -> int:
        return len(self._kept)

    def _lookup(self, key: Any) -> tuple[bytes, str] | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def _keep(self, key: Any, made: tuple[bytes, str]) -> None:
        size = len(made[0])
        if size > self.budget:
            return
        with self._lock:
            self._kept[key] = made
            self._bytes += size
            while self._bytes > self.budget:
                _, (evicted, _) = self._kept.popitem(last=False)
                self._bytes -= len(evicted)


_RENDERED: weakref.WeakKeyDictionary[Ledger, RenderedReports] = weakref.WeakKeyDictionary()
_RENDERED_LOCK = threading.Lock()


def _rendered_for(ledger: Ledger) -> RenderedReports:
    """The rendered reports of this Ledger object (kept as long as it lives)."""
    with _RENDERED_LOCK:
        found = _RENDERED.get(ledger)
        if found is None:
            found = _RENDERED[ledger] = RenderedReports()
        return found


def _report_checkpoint(
    ledger: Ledger, config: LedgerConfig, signer: NoteSigner | None
) -> CheckpointInfo:
    stored = newest_checkpoint(ledger, signer)
    if stored is None:
        raise ReportError(
            "the log has no signed checkpoint yet: run inquiry-ledger checkpoint "
            "(or report --checkpoint) first"
        )
    return checkpoint_info(stored.note, ledger.tree_size(), _log_verifier(config))


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
