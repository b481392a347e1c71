"""What an audit found: each problem with the entry it concerns, and the whole report as
JSON and as a self-contained HTML page (verification-report.json / .html)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Finding:
    leaf_index: int | None
    check: str
    detail: str


#: How a check reports a problem: (leaf index or None, check, detail). The checks are given
#: the audit's own `Auditor.problem`, so the report's limit and order are kept in one place.
ProblemSink = Callable[[int | None, str, str], None]


@dataclass
class AuditReport:
    bundle: str
    origin: str = ""
    log_key: str = ""
    log_key_source: str = ""
    trust_source: str = "not pinned: pass --trust FILE (the roots' public keys)"
    #: The post-quantum (ML-DSA-44) log key, and whether it was checked (pqkey.py).
    pq_log_key: str = ""
    pq_log_key_source: str = "not checked: the bundle carries no post-quantum log key"
    entries: int = 0
    signatures_verified: int = 0
    authority_checked: int = 0
    checkpoints_verified: int = 0
    pq_checkpoints_verified: int = 0
    pq_predating: int = 0  # checkpoints from before the post-quantum key was added
    latest_checkpoint: int | None = None
    since_checkpoint: int | None = None
    witnessed: dict[str, int] = field(default_factory=dict)
    witnesses_required: int = 0
    witnessed_size: int | None = None
    directory_changes: list[str] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)
    evidence_listed: int = 0
    evidence_rehashed: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    #: "bundle too large/hostile: ..." when that ended the audit early (limits.py).
    hostile: str | None = None

    @property
    def ok(self) -> bool:
        """No problem, and checked against keys the auditor holds: a bundle that is only
        consistent with itself proves nothing about who made it."""
        return not self.problems and not self.unpinned

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bundle": self.bundle,
            "origin": self.origin,
            "log_key": self.log_key,
            "log_key_source": self.log_key_source,
            "pq_log_key": self.pq_log_key,
            "pq_log_key_source": self.pq_log_key_source,
            "counts": {
                "entries": self.entries,
                "signatures_verified": self.signatures_verified,
                "authority_checked": self.authority_checked,
                "checkpoints_verified": self.checkpoints_verified,
                "pq_checkpoints_verified": self.pq_checkpoints_verified,
                "pq_checkpoints_predating_the_key": self.pq_predating,
                "evidence_listed": self.evidence_listed,
                "evidence_rehashed": self.evidence_rehashed,
            },
            "latest_checkpoint": self.latest_checkpoint,
            "since_checkpoint": self.since_checkpoint,
            "witnessed": self.witnessed,
            "witnesses_required": self.witnesses_required,
            "witnessed_size": self.witnessed_size,
            "unpinned": self.unpinned,
            "directory_changes": self.directory_changes,
            "checks": self.checks,
            "problems": [vars(p) for p in self.problems],
        }

    def to_html(self) -> str:
        e = html.escape
        verdict = (
            "VERIFIED"
            if self.ok
            else (
                f"FAILED ({len(self.problems)} problems)"
                if self.problems
                else "NOT VERIFIED: " + "; ".join(f"not pinned: {u}" for u in self.unpinned)
            )
        )
        counts = self.to_json()["counts"]
        rows = "".join(
            f"<tr><td>{'' if p.leaf_index is None else p.leaf_index}</td>"
            f"<td>{e(p.check)}</td><td>{e(p.detail)}</td></tr>"
            for p in self.problems
        )
        return (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            f"<title>Verification report: {e(self.origin)}</title>"
            "<style>body{font:15px system-ui;margin:2em;max-width:70em}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;"
            "text-align:left;vertical-align:top}.ok{color:#060}.bad{color:#a00}</style>"
            f"<h1>Verification report</h1><p>Log <b>{e(self.origin)}</b>, bundle "
            f"<code>{e(self.bundle)}</code></p>"
            f"<p class={'ok' if self.ok else 'bad'}><b>{e(verdict)}</b></p>"
            f"<p>Log key <code>{e(self.log_key)}</code> ({e(self.log_key_source)}). "
            f"Post-quantum (ML-DSA-44) log key <code>{e(self.pq_log_key or 'none')}</code> "
            f"({e(self.pq_log_key_source)}). Latest "
            f"signed checkpoint: {self.latest_checkpoint}. Saved checkpoint checked: "
            f"{self.since_checkpoint if self.since_checkpoint is not None else 'none given'}. "
            f"Largest checkpoint cosigned by each pinned witness: "
            f"{e(json.dumps(self.witnessed)) if self.witnessed else 'none pinned'}.</p>"
            "<h2>Counts</h2><table>"
            + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in counts.items())
            + "</table><h2>What was checked</h2><ul>"
            + "".join(f"<li>{e(c)}</li>" for c in self.checks)
            + "</ul><h2>Directory changes</h2><ol>"
            + "".join(f"<li>{e(c)}</li>" for c in self.directory_changes)
            + "</ol><h2>Problems</h2>"
            + (
                "<table><tr><th>leaf</th><th>check</th><th>detail</th></tr>" + rows + "</table>"
                if rows
                else "<p>None.</p>"
            )
            + "</html>\n"
        )


def summary_lines(report: AuditReport) -> list[str]:
    """Which log, and what was checked: the same words from the CLI and `python -m`. The
    log is the one the log key is named for (not what the bundle says it is)."""
    return [
        f"log: {report.origin or 'unknown (no log key could be read)'}",
        f"entries: {report.entries}  signatures verified: {report.signatures_verified}  "
        f"authority checked: {report.authority_checked}  checkpoints verified: "
        f"{report.checkpoints_verified} (latest covers {report.latest_checkpoint})  "
        f"evidence re-hashed: {report.evidence_rehashed}/{report.evidence_listed}",
        f"log key: {report.log_key_source}",
        f"post-quantum log key (ML-DSA-44): {report.pq_log_key_source}"
        + (
            f"; {report.pq_checkpoints_verified} checkpoint(s) carry its valid signature, "
            f"{report.pq_predating} predate it"
            if report.pq_checkpoints_verified or report.pq_predating
            else ""
        ),
        f"roots of authority: {report.trust_source}",
    ]


def directory_lines(report: AuditReport, limit: int = 200) -> list[str]:
    """Every registration, appointment, rotation and revocation, with who authorised it."""
    lines = [f"directory changes ({len(report.directory_changes)}):"]
    lines += [f"  {change}" for change in report.directory_changes[:limit]]
    if len(report.directory_changes) > limit:
        lines.append(f"  … {len(report.directory_changes) - limit} more in the JSON report")
    return lines


def problem_lines(report: AuditReport, limit: int = 20) -> list[str]:
    """The first `limit` problems, each naming its entry where it has one."""
    lines = []
    for problem in report.problems[:limit]:
        where = "" if problem.leaf_index is None else f"entry {problem.leaf_index}: "
        lines.append(f"  PROBLEM {where}{problem.check}: {problem.detail}")
    return lines


def verdict_line(report: AuditReport) -> str:
    if report.problems:
        return f"FAILED: {len(report.problems)} problem(s)"
    if report.unpinned:
        missing = "; ".join(report.unpinned)
        return f"NOT VERIFIED (no problem found, but nothing ties the bundle to you): {missing}"
    return "OK"


def write_report(report: AuditReport, folder: Path) -> Path:
    """Write verification-report.json and .html into `folder`; return the HTML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verification-report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    page = folder / "verification-report.html"
    page.write_text(report.to_html())
    return page
