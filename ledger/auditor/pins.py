"""What the auditor pinned, and what it did not: the log key and the roots of authority.

A bundle names its own log key and replays its own directory, so whatever it says about
them is only its exporter's word. The audit checks checkpoints against the log keys the
auditor brings (``--log-key``) and authority against the roots it brings (``--trust``);
where one was not brought, the report says so, and the verdict is then never a bare OK.
"""

from __future__ import annotations

from typing import Any

from ledger.auditor.bundle import Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, ProblemSink
from ledger.auditor.limits import MAX_ROTATIONS, BundleTooLarge
from ledger.auditor.note import VerifierKey
from ledger.auditor.roots import Roots, parse_trust
from ledger.auditor.rotation import LogKeys, Rotation, parse_verifier_keys


def log_keys(
    bundle: Bundle,
    meta: dict[str, Any],
    pinned_key: str | None,
    report: AuditReport,
    problem: ProblemSink,
) -> LogKeys:
    """The pinned keys (one a line; old and new after a rotation), placed in time by
    the bundle's rotation statements.

    LogKeyError if the rotation statements do not form one chain; FormatError if a key
    cannot be read."""
    rotations: list[Rotation] = []
    if bundle.exists("log-key-rotations.jsonl"):
        for number, line in enumerate(bundle.lines("log-key-rotations.jsonl"), start=1):
            if number > MAX_ROTATIONS:  # each costs two signature checks; a log has a few
                raise BundleTooLarge(
                    f"log-key-rotations.jsonl holds more than {MAX_ROTATIONS} rotations"
                )
            try:
                rotations.append(Rotation.parse(str(parse_json(line)["note"])))
            except (FormatError, KeyError, TypeError) as error:
                problem(None, "log key rotation", str(error))
    # bundle.json names the log's key (an export through the API: the keys its
    # exporter pinned, one a line)
    named = [line.strip() for line in str(meta.get("log_key", "")).splitlines()]
    if pinned_key is not None:
        pinned = parse_verifier_keys(pinned_key)
        report.log_key_source = "pinned by the auditor"
        lines = {line.strip() for line in pinned_key.splitlines()}
        if not named or not set(filter(None, named)) <= lines:
            problem(None, "log key", _unpinned(pinned, rotations))
    else:
        pinned = [VerifierKey.parse(line) for line in named if line] or [VerifierKey.parse("")]
        pinned += [r.old for r in rotations]
        report.log_key_source = "taken from the bundle (not pinned: pass --log-key)"
    report.log_key = ", ".join(f"{key.label}+..." for key in pinned)
    report.origin = log_origin(pinned, problem)
    return LogKeys(pinned, rotations)


def log_origin(pinned: list[VerifierKey], problem: ProblemSink) -> str:
    """The log the audit is of: the name of the pinned log key (a log key is always named
    by its log's origin). Whatever the bundle says its origin is, and every checkpoint,
    genesis and entry, must name this one: a key signs for one log, so a checkpoint of
    another log under it (a training ledger's, say) is not this log's. After a rotation
    the pinned keys must all bear that one name."""
    names = list(dict.fromkeys(key.name for key in pinned))
    if len(names) > 1:
        problem(
            None,
            "log key",
            f"the pinned log keys name different logs ({', '.join(names)}): a log's keys, "
            "old and new, all bear its origin; pin the keys of one log only",
        )
    return names[0]


def _unpinned(pinned: list[VerifierKey], rotations: list[Rotation]) -> str:
    """Why the bundle's log key is not one the auditor pinned: after a rotation away from
    the pinned key the auditor needs the new key, which only they can vouch for."""
    for rotation in rotations:
        if rotation.old in pinned and rotation.new not in pinned:
            return (
                f"the log key was rotated at size {rotation.size} from your pinned key "
                f"{rotation.old.label} to {rotation.new.label} (a statement "
                "signed by both); checkpoints after it are signed by a key you have not "
                "pinned: obtain the new key independently and add it to your --log-key file"
            )
    return "the bundle names a different log key"


def pinned_roots(trust_text: str | None, report: AuditReport) -> Roots:
    """The roots of authority the auditor pinned (``--trust``), or none: without them every
    member counts as rooted, so the report says authority was checked against nothing.

    FormatError if the trust file names no key or a bad one."""
    if trust_text is None:
        return Roots(None)
    roots = Roots(parse_trust(trust_text))
    count = len(roots.trusted or ())
    report.trust_source = f"{count} root key(s) pinned by the auditor"
    return roots


def report_unpinned(report: AuditReport, pinned_key: str | None, roots: Roots) -> None:
    """What the auditor did not pin: without it the verdict is never a bare OK."""
    if pinned_key is None:
        report.unpinned.append("the log key (--log-key): the checkpoints could be signed by anyone")
    if not roots.pinned:
        report.unpinned.append(
            "the roots of authority (--trust): a chair the operator registered would pass"
        )
