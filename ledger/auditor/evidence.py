"""The evidence the entries attach, against the bundle's manifest and blobs.

An entry signs only a blob's SHA-256, so the file itself proves nothing until it is
re-hashed: the manifest must list exactly the blobs the entries attach, and (with
``--evidence``) each blob in the bundle must hash to the SHA-256 and size it was signed
for. A blob lawfully erased keeps its hash in the log and is not expected in the bundle.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ledger.auditor.bundle import Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.entry import EventBody
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, ProblemSink
from ledger.auditor.limits import EXTRA_LINES, BundleTooLarge

#: A blob's name in a bundle: its SHA-256, lowercase hex.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Evidence:
    """The blobs attached and erased by the entries replayed so far."""

    def __init__(self) -> None:
        self.attached: dict[str, int] = {}  # sha256 -> leaf index of its attachment
        self.erased: set[str] = set()

    def apply(self, position: int, body: EventBody) -> None:
        """Record an attachment or an erasure (its signature and authority already
        checked); KeyError or TypeError if its payload lacks the hash."""
        if body.type == "action.evidence_attached":
            self.attached.setdefault(body.payload["sha256"], position)
        elif body.type == "action.evidence_erased":
            self.erased.add(body.payload["sha256"])

    def check(
        self, bundle: Bundle, rehash: bool, report: AuditReport, problem: ProblemSink
    ) -> None:
        """The manifest against the attachments; with `rehash`, every blob against its hash."""
        report.checks.append("the evidence manifest lists exactly the attached blobs")
        listed: dict[str, dict[str, Any]] = {}
        most = len(self.attached) + EXTRA_LINES  # it cannot list more than is attached
        if bundle.exists("evidence/manifest.jsonl"):
            for number, line in enumerate(bundle.lines("evidence/manifest.jsonl"), start=1):
                if number > most:
                    raise BundleTooLarge(
                        f"evidence/manifest.jsonl lists more than {most} blobs; the entries "
                        f"attach {len(self.attached)}"
                    )
                try:
                    record = parse_json(line)
                    sha = record["sha256"]
                except (FormatError, KeyError, TypeError) as error:
                    problem(None, "evidence manifest", str(error))
                    continue
                if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha):
                    # It names a file to read (evidence/blobs/<sha256>): only a hash may.
                    problem(None, "evidence manifest", f"{sha!r} is not a SHA-256 (64 hex)")
                    continue
                listed[sha] = {"size": record.get("size")}  # all the rehash needs
        report.evidence_listed = len(listed)
        for sha in sorted(set(self.attached) - set(listed)):
            problem(self.attached[sha], "evidence manifest", f"{sha} is attached, not listed")
        for sha in sorted(set(listed) - set(self.attached)):
            problem(None, "evidence manifest", f"{sha} is listed but never attached")
        if not rehash:
            return
        report.checks.append("every evidence blob re-hashes to its SHA-256 and size")
        for sha, record in sorted(listed.items()):
            if sha in self.erased:
                continue  # lawfully erased: its hash stays in the log, its content is gone
            name = f"evidence/blobs/{sha}"
            position = self.attached.get(sha)
            if not bundle.exists(name):
                problem(position, "evidence missing", f"{sha} is not in the bundle")
                continue
            listed_size = record["size"]
            if type(listed_size) is not int or listed_size < 0:
                problem(position, "evidence manifest", f"{sha} is listed without a size")
                continue
            digest, size = hashlib.sha256(), 0
            left = listed_size + 1  # one byte past the size listed: a longer blob is altered
            with bundle.open(name) as stream:
                while left > 0 and (chunk := stream.read(min(1 << 20, left))):
                    digest.update(chunk)
                    size += len(chunk)
                    left -= len(chunk)
            report.evidence_rehashed += 1
            if digest.hexdigest() != sha or size != listed_size:
                problem(
                    position,
                    "evidence altered",
                    f"the blob stored for {sha} hashes to {digest.hexdigest()} "
                    f"({size} bytes): it is not the file that was signed for",
                )
