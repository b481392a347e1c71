"""The `inquiry-ledger` command line.

Every command works inside INQUIRY_LEDGER_HOME (or --home). Commands that change the
ledger sign on the caller's side with the caller's private key file (--as USER, --key
FILE; by default HOME/keys/users/USER.key) and the ledger verifies before it appends.

Exit status: 0 done; 1 verification found a problem; 2 bad input or usage;
3 refused by the ledger (rule, signature, conflict); 4 not set up.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.canonical import CanonicalFormError

from domain import DomainError, Status
from evidence_store.base import EvidenceError
from ledger.config import ConfigError, LedgerConfig
from ledger.entry import EntryFormatError
from ledger.errors import LedgerError, NotInitialised
from ledger.keys import KeyFileError, KeyPair, decode_public_key
from ledger.note import NoteError, NoteSigner
from ledger.service import Ledger
from ledger.signer import Signer
from projections.asof import parse_as_of

EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_NOT_SET_UP = 4
EXIT_BROKEN_PIPE = 141  # what a shell reports for a tool that SIGPIPE stopped


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


# -- shared helpers ----------------------------------------------------------------------


def _config(args: argparse.Namespace) -> LedgerConfig:
    env = dict(os.environ)
    if args.home:
        env["INQUIRY_LEDGER_HOME"] = args.home
    return LedgerConfig.from_env(env)


def _open(config: LedgerConfig, *, must_exist: bool = True) -> Ledger:
    if must_exist and not config.uses_postgres and not config.sqlite_path.exists():
        raise CliError(f"no ledger in {config.home}; run: inquiry-ledger init", EXIT_NOT_SET_UP)
    from api.application.evidence import ConfiguredEvidence

    ledger = Ledger(config, evidence=ConfiguredEvidence(config.home))
    if must_exist and ledger.directory() is None:
        ledger.close()
        raise CliError(
            f"no ledger in {config.describe_store()}; run: inquiry-ledger init", EXIT_NOT_SET_UP
        )
    return ledger


def _signer(args: argparse.Namespace, config: LedgerConfig) -> Signer:
    user = args.as_user or os.environ.get("INQUIRY_LEDGER_USER")
    if not user:
        raise CliError("say who is signing: --as USER (or INQUIRY_LEDGER_USER)")
    key_path = Path(args.key or os.environ.get("INQUIRY_LEDGER_KEY") or config.user_key_path(user))
    return Signer(user, KeyPair.read(key_path))


def _log_signer(ledger: Ledger, config: LedgerConfig) -> NoteSigner:
    return NoteSigner(ledger.origin(), KeyPair.read(config.log_key_path))


def _remote(args: argparse.Namespace) -> Any:
    """The server to talk to, when --server (or INQUIRY_LEDGER_SERVER) is given."""
    server = args.server or os.environ.get("INQUIRY_LEDGER_SERVER")
    if not server:
        return None
    token = args.token or os.environ.get("INQUIRY_LEDGER_TOKEN")
    if not token:
        raise CliError("client mode needs a token: --token TOKEN (or INQUIRY_LEDGER_TOKEN)")
    from api.cli.remote import RemoteLedger

    return RemoteLedger(server, token)


#: Commands that also work in client mode (--server); the rest need the ledger's folder.
REMOTE_COMMANDS = {
    ("act", None),
    ("status", None),
    ("diff", None),
    ("history", None),
    ("report", None),
    ("timeline", None),
    ("users", "add"),
    ("users", "list"),
    ("import", None),
    ("checkpoint", None),
    ("keys", "rotate"),
    ("keys", "revoke"),
    ("evidence", "add"),
    ("evidence", "get"),
    ("verify-bundle", None),  # reads only the bundle given, wherever it came from
    ("witness", "cosign"),
    ("export", None),
    ("witness", "new-key"),
}


def _refuse_remote_for_local_commands(args: argparse.Namespace) -> None:
    if not (args.server or os.environ.get("INQUIRY_LEDGER_SERVER")):
        return
    sub = getattr(args, f"{args.command}_cmd", None)
    if (args.command, sub) not in REMOTE_COMMANDS:
        name = f"{args.command} {sub}" if sub else args.command
        raise CliError(f"'{name}' works on the server's own ledger folder, not in client mode")


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    """(ledger or remote ledger, a signing client). Signing is always on this side."""
    from api.application.commands import Client

    config = _config(args)
    remote = _remote(args)
    ledger = remote if remote is not None else _open(config)
    return ledger, Client(ledger, _signer(args, config))


def _print_appended(results: Sequence[Any]) -> None:
    for r in results:
        print(f"appended entry {r.leaf_index}: {r.type} v{r.version}")


def _parse_moment(text: str) -> datetime:
    try:
        return parse_as_of(text)
    except ValueError:
        raise CliError(f"not a date or date-time: {text!r} (use YYYY-MM-DD[THH:MM])") from None


# -- commands ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from api.application.setup import initialise

    config = _config(args)
    admin_key = KeyPair.read(Path(args.admin_key)) if args.admin_key else None
    result = initialise(
        config,
        origin=args.origin,
        admin_id=args.admin_id,
        admin_name=args.admin_name,
        admin_key=admin_key,
    )
    print(f"initialised ledger {result.origin} in {config.describe_store()}")
    print(f"log verifier key (publish it; auditors pin it): {result.log_vkey}")
    if result.admin_key_path:
        print(f"administrator {args.admin_id}'s private key: {result.admin_key_path}")
    return 0


def cmd_keys_new(args: argparse.Namespace) -> int:
    key = KeyPair.generate()
    key.write(Path(args.out))
    print(f"private key written to {args.out} (mode 0600); keep it on your side")
    print(f"public key: {_b64(key.public_key)}")
    print(f"key id:     {key.key_id}")
    return 0


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _public_key_arg(args: argparse.Namespace) -> bytes:
    if args.public_key:
        try:
            return decode_public_key(args.public_key)
        except ValueError as error:
            raise CliError(f"--public-key: {error}") from None
    if args.key_file:
        return KeyPair.read(Path(args.key_file)).public_key
    raise CliError("give the user's public key: --public-key BASE64 or a key file")


def cmd_users_add(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        result = client.register_user(
            args.user_id, args.name, args.role, args.agency, _public_key_arg(args)
        )
        _print_appended([result])
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if remote is not None:
        from api.application.render import table

        with remote:
            users = remote.users()
        print(
            table(
                ["User", "Name", "Role", "Agency", "Active keys", "Revoked keys"],
                [
                    (
                        u["user_id"],
                        u["name"],
                        u["role"],
                        u["agency"] or "-",
                        ", ".join(u["active_keys"]) or "-",
                        u["revoked_keys"],
                    )
                    for u in users
                ],
            )
        )
        return 0
    with _open(_config(args)) as ledger:
        directory = ledger.require_directory()
        from api.application.render import table

        print(
            table(
                ["User", "Name", "Role", "Agency", "Active keys", "Revoked keys"],
                [
                    (
                        u.user_id,
                        u.name,
                        u.role.value,
                        u.agency or "-",
                        ", ".join(k.key_id for k in u.keys.values() if k.active) or "-",
                        len([k for k in u.keys.values() if not k.active]),
                    )
                    for u in sorted(directory.users.values(), key=lambda u: u.user_id)
                ],
            )
        )
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        public_key = _public_key_arg(args)
        _print_appended([client.rotate_key(args.user_id, public_key, args.reason)])
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        _print_appended([client.revoke_key(args.user_id, args.key_id, args.reason)])
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from api.application.plan_import import ImportRejected, import_csv

    config = _config(args)
    remote = _remote(args)
    with remote if remote is not None else _open(config) as ledger:
        try:
            results = import_csv(
                ledger,
                _signer(args, config),
                Path(args.file),
                title=args.title,
                source=args.source,
                recommendations_expected=args.expected,
            )
        except ImportRejected as rejected:
            for error in rejected.errors:
                print(f"{args.file}: {error}", file=sys.stderr)
            raise CliError(str(rejected)) from None
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from None
        print(f"imported {len(results)} entries from {args.file}")
    return 0


def cmd_act(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        result = _act(args, client, _config(args))
        _print_appended([result])
    return 0


def _act(args: argparse.Namespace, client: Any, config: LedgerConfig) -> Any:
    action_id, verb = args.action_id, args.verb
    if verb == "start":
        return client.change_status(action_id, Status.IN_PROGRESS)
    if verb == "submit":
        return client.change_status(action_id, Status.EVIDENCE_SUBMITTED)
    if verb == "block":
        return client.change_status(action_id, Status.BLOCKED, args.reason)
    if verb in ("unblock", "reopen"):
        return client.change_status(action_id, Status.IN_PROGRESS, args.reason)
    if verb == "outcome":
        return client.change_status(action_id, Status(args.outcome), args.reason)
    if verb == "sign-off":
        return client.sign_off(action_id, args.statement)
    if verb == "revoke-sign-off":
        return client.revoke_sign_off(action_id, args.reason)
    if verb == "return":
        return client.return_action(action_id, args.reason)
    if verb == "rate":
        return client.rate(action_id, args.rating, args.reason)
    if verb in ("comment", "challenge"):
        return client.comment(action_id, args.text, challenge=verb == "challenge")
    if verb == "assign":
        return client.assign(action_id, args.officer)
    if verb == "amend":
        changes: dict[str, Any] = {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep:
                raise CliError(f"--set takes FIELD=VALUE, got {item!r}")
            changes[name] = (
                [v.strip() for v in value.split(";")]
                if name == "lead_officers"
                else (value or None)
            )
        return client.amend(action_id, changes, args.reason)
    if verb == "merge":
        return client.merge(action_id, args.into, args.reason)
    if verb == "withdraw":
        return client.withdraw(action_id, args.reason)
    if verb == "attach":
        return _attach(client, args)
    if verb == "withdraw-evidence":
        return client.withdraw_evidence(action_id, args.sha256, args.reason)
    raise CliError(f"unknown verb {verb}")


def _store(ledger: Any) -> Any:
    from api.application.evidence import ConfiguredEvidence
    from api.cli.remote import RemoteEvidence, RemoteLedger

    if isinstance(ledger, RemoteLedger):
        return RemoteEvidence(ledger)
    assert isinstance(ledger.evidence, ConfiguredEvidence)
    return ledger.evidence.store


def _attach(client: Any, args: argparse.Namespace) -> Any:
    from api.application.evidence import attach_file

    try:
        return attach_file(
            client,
            _store(client.ledger),
            args.action_id,
            Path(args.file),
            description=args.description,
            effective_date=args.effective_date,
        )
    except FileNotFoundError:
        raise CliError(f"no such file: {args.file}") from None
    except PermissionError:
        raise CliError(f"cannot read {args.file}: permission denied") from None


def cmd_evidence_add(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        _print_appended([_attach(client, args)])
    return 0


def cmd_evidence_get(args: argparse.Namespace) -> int:
    from api.application.evidence import fetch

    remote = _remote(args)
    with remote if remote is not None else _open(_config(args)) as ledger:
        size = fetch(_store(ledger), args.sha256, Path(args.out))
    print(f"wrote {size} bytes to {args.out}; SHA-256 verified")
    return 0


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from api.application.evidence import verify_evidence

    with _open(_config(args)) as ledger:
        report = verify_evidence(ledger, _store(ledger))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    print(f"evidence named by the ledger: {report.named} ({counts or 'none'})")
    for problem in report.problems:
        print(f"  PROBLEM {problem}", file=sys.stderr)
    print("OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else EXIT_FAILED_CHECK


def cmd_evidence_orphans(args: argparse.Namespace) -> int:
    from api.application.evidence import orphans

    with _open(_config(args)) as ledger:
        found = list(orphans(ledger, _store(ledger)))
    for sha256 in found:
        print(sha256)
    print(
        f"{len(found)} orphan blob(s): stored, named by no ledger entry (never deleted)",
        file=sys.stderr,
    )
    return 0


def cmd_evidence_erase(args: argparse.Namespace) -> int:
    ledger, client = _client(args)
    with ledger:
        result = client.erase_evidence(args.action_id, args.sha256, args.reason)
        _print_appended([result])
        _store(ledger).erase(args.sha256)
        print(f"data key of {args.sha256} destroyed: the blob can no longer be read")
    return 0


def cmd_evidence_url(args: argparse.Namespace) -> int:
    with _open(_config(args)) as ledger:
        store = _store(ledger)
        if not hasattr(store, "presigned_url"):
            raise CliError("presigned URLs need the S3 evidence store")
        print(store.presigned_url(args.sha256, args.expires))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from projections.asof import status_as_of
    from projections.status import PlanStatus

    if args.position is not None and args.position < 0:
        raise CliError("--position must be 0 or more")
    if args.out:
        from api.cli.report import export_status

        return export_status(args)
    remote = _remote(args)
    if remote is not None:
        with remote:
            if args.as_of:
                _parse_moment(args.as_of)  # the same clear error as locally
            found = remote.status(as_of=args.as_of, position=args.position)
            remote_plan = remote.plan()
            expected = remote_plan.recommendations_expected if remote_plan else 0
        return _print_status(PlanStatus.from_json(found), expected, args)
    with _open(_config(args)) as ledger:
        until_time = _parse_moment(args.as_of) if args.as_of else None
        status = status_as_of(ledger, as_of=until_time, position=args.position)
        plan = ledger.plan()
        expected = plan.recommendations_expected if plan else 0
    return _print_status(status, expected, args)


def _print_status(status: Any, expected: int, args: argparse.Namespace) -> int:
    from api.application.render import render_actions, render_status

    if args.json:
        print(json.dumps(status.to_json(), indent=2, default=str))
        return 0
    present = {r.number for r in status.recommendations}
    missing = [n for n in range(1, expected + 1) if n not in present]
    print(render_status(status, missing=missing))
    if args.actions:
        print()
        print(render_actions(status))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from api.cli.report import cmd_report

    return cmd_report(args)


def cmd_diff(args: argparse.Namespace) -> int:
    from projections.diff import diff_as_of

    start, end = _parse_moment(args.start), _parse_moment(args.end)
    if end <= start:
        raise CliError("--to must be after --from")
    remote = _remote(args)
    if remote is not None:
        with remote:
            found = remote.diff(args.start, args.end)
    else:
        with _open(_config(args)) as ledger:
            found = diff_as_of(ledger, start, end).to_json()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    before, after = found["summary_before"], found["summary_after"]
    print(f"from {found['from']} to {found['to']}")
    for name in after:
        if before.get(name) != after[name]:
            print(f"  {name}: {before.get(name)} -> {after[name]}")
    if found["actions_added"]:
        print(f"actions added: {', '.join(found['actions_added'])}")
    for change in found["changes"]:
        print(
            f"  {change['action_id']:<8} {change['field']}: {change['before']} -> {change['after']}"
        )
    print(f"decisions ({len(found['decisions'])}):")
    for d in found["decisions"]:
        details = "; ".join(f"{k}={v}" for k, v in d["summary"].items())
        where = f"[{d['leaf_index']}] {d['timestamp']} {d['action_id']:<8}"
        print(f"  {where} {d['type']} by {d['actor']}")
        if details:
            print(f"        {details}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from domain import action_aggregate_id
    from ledger.entry import from_domain_event

    remote = _remote(args)
    if remote is not None:
        with remote:
            rows = remote.history(args.action_id)
        return _print_history(rows, args)
    with _open(_config(args)) as ledger:
        if ledger.action(args.action_id) is None:
            raise CliError(f"no action {args.action_id}")
        events = ledger.aggregate_events(action_aggregate_id(args.action_id))
        rows = [from_domain_event(e).to_json() for e in events]
    return _print_history(rows, args)


def cmd_projection(args: argparse.Namespace) -> int:
    """Bring the as-of projection up to date (or rebuild it) ahead of time, e.g. before
    starting the server on a long log; queries would otherwise do it on first use."""
    import time

    from projections.projector import projector_for

    with _open(_config(args)) as ledger:
        projector = projector_for(ledger)
        start = time.perf_counter()
        mark = projector.rebuild(ledger) if args.rebuild else projector.catch_up(ledger)
        seconds = time.perf_counter() - start
        rows = projector.tables.sizes()
    print(
        f"as-of projection covers {mark} entries ({rows['snapshots']} snapshots, "
        f"{rows['aggregates']} aggregates); {'rebuilt' if args.rebuild else 'caught up'} "
        f"in {seconds:.1f} s"
    )
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    from projections.timeline import (
        UnknownSubject,
        action_timeline,
        recommendation_timeline,
        render_timeline,
    )

    if (args.action_id is None) == (args.recommendation is None):
        raise CliError("name one action (R10.1) or --recommendation N")
    if args.position is not None and args.position < 0:
        raise CliError("--position must be 0 or more")
    if args.limit is not None and args.limit < 0:
        raise CliError("--limit must be 0 or more")
    until = _parse_moment(args.as_of) if args.as_of else None
    remote = _remote(args)
    if remote is not None:
        with remote:
            found = remote.timeline(
                action_id=args.action_id,
                recommendation=args.recommendation,
                as_of=args.as_of,
                position=args.position,
                limit=args.limit,
            )
    else:
        with _open(_config(args)) as ledger:
            try:
                if args.recommendation is not None:
                    timeline = recommendation_timeline(
                        ledger,
                        args.recommendation,
                        as_of=until,
                        position=args.position,
                        limit=args.limit,
                    )
                else:
                    timeline = action_timeline(
                        ledger,
                        args.action_id,
                        as_of=until,
                        position=args.position,
                        limit=args.limit,
                    )
            except UnknownSubject as error:
                raise CliError(str(error)) from None
            found = timeline.to_json()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        print(render_timeline(found))
    return 0


def _print_history(rows: list[Any], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        payload = ", ".join(f"{k}={v}" for k, v in row["payload"].items() if v not in ("", []))
        print(
            f"v{row['version']:<3} {row['timestamp']}  {row['type']:<26} "
            f"by {row['actor']} (key {row['key_id']})"
        )
        print(f"      {payload}")
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if remote is not None:
        with remote:
            print(remote.sign_checkpoint(), end="")
        return 0
    config = _config(args)
    with _open(config) as ledger:
        stored = ledger.sign_checkpoint(_log_signer(ledger, config))
        print(stored.note, end="")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ledger.bundle import ExportError, export_bundle

    remote = _remote(args)
    if remote is not None:
        from api.cli.remote import RemoteEvidence, RemoteSource

        if not args.log_key:
            raise CliError("export through a server needs --log-key (the key you pinned)")
        vkey = _read_text(args.log_key, "log verifier key")
        with remote:
            reader = RemoteEvidence(remote).read if args.evidence else None
            try:
                summary = export_bundle(RemoteSource(remote), vkey, Path(args.out), blobs=reader)
            except ExportError as error:
                raise CliError(str(error)) from None
        _print_export(summary)
        return 0
    config = _config(args)
    try:
        vkey = config.log_vkey_path.read_text()
    except OSError as error:
        raise CliError(
            f"cannot read the log's verifier key {config.log_vkey_path}: {error.strerror}",
            EXIT_NOT_SET_UP,
        ) from None
    with _open(config) as ledger:
        blobs = _store(ledger).read if args.evidence else None
        try:
            summary = export_bundle(ledger, vkey, Path(args.out), blobs=blobs)
        except ExportError as error:
            raise CliError(str(error)) from None
    _print_export(summary)
    return 0


def _print_export(summary: Any) -> None:
    print(
        f"exported {summary.entries} entries, {summary.checkpoints} checkpoints and "
        f"{summary.evidence_listed} evidence records ({summary.evidence_blobs} blobs) "
        f"to {summary.path}"
    )


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from ledger.auditor import audit

    bundle = Path(args.bundle)
    if not bundle.exists():
        raise CliError(f"no bundle at {bundle}")
    log_key = _read_text(args.log_key, "log verifier key") if args.log_key else None
    since = [_read_text(path, "saved checkpoint") for path in args.since or []]
    witnesses = [_read_text(path, "witness key").strip() for path in args.witness_key or []]
    report = audit(
        bundle, log_key=log_key, since=since, witness_keys=witnesses, evidence=args.evidence
    )
    if args.rules and report.entries:
        from ledger.bundle import replay_rules

        replay_rules(bundle, report)
    out = Path(args.report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "verification-report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    (out / "verification-report.html").write_text(report.to_html())
    print(
        f"entries: {report.entries}  signatures verified: {report.signatures_verified}  "
        f"authority checked: {report.authority_checked}  checkpoints verified: "
        f"{report.checkpoints_verified} (latest covers {report.latest_checkpoint})  "
        f"evidence re-hashed: {report.evidence_rehashed}/{report.evidence_listed}"
    )
    print(f"log key: {report.log_key_source}")
    for problem in report.problems[:20]:
        where = "" if problem.leaf_index is None else f"entry {problem.leaf_index}: "
        print(f"  PROBLEM {where}{problem.check}: {problem.detail}", file=sys.stderr)
    print(f"report: {out / 'verification-report.html'}")
    print("OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else EXIT_FAILED_CHECK


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read the {what} {path}: {error.strerror}") from None


def cmd_witness_new_key(args: argparse.Namespace) -> int:
    from ledger.witness import Cosigner

    key = KeyPair.generate()
    key.write(Path(args.out))
    print(f"witness private key written to {args.out} (mode 0600); keep it on your side")
    print(f"witness key (publish it; readers pin it): {Cosigner(args.name, key).public.encode()}")
    return 0


def cmd_witness_cosign(args: argparse.Namespace) -> int:
    """Fetch the latest checkpoint, check it extends the last one this witness cosigned,
    cosign it and publish the cosignature. A split view is kept as evidence and fails."""
    import time

    from ledger.witness import Cosigner, SplitView, WitnessError, WitnessState, check_extends

    remote = _remote(args)
    if remote is None:
        raise CliError("witness cosign talks to the log's server: pass --server and --token")
    from api.cli.remote import RemoteSource
    from ledger.logkeys import LogKeyError, LogKeys, parse_verifier_keys

    # One key a line: after a log-key rotation, the old key and the new one.
    pinned = parse_verifier_keys(_read_text(args.log_key, "log verifier key"))
    cosigner = Cosigner(args.name, KeyPair.read(Path(args.key)))
    state = WitnessState(Path(args.state))
    with remote:
        try:
            log_key = LogKeys(pinned, RemoteSource(remote).log_key_rotations())
        except LogKeyError as error:
            raise CliError(str(error), EXIT_FAILED_CHECK) from None
        shown = remote.latest_checkpoint_note()
        try:
            checkpoint = check_extends(shown, state.latest(), log_key, remote.consistency_proof)
        except SplitView as error:
            evidence = state.record_split_view(error)
            print(f"inquiry-ledger: {error}", file=sys.stderr)
            print(f"inquiry-ledger: both signed checkpoints kept in {evidence}", file=sys.stderr)
            return EXIT_FAILED_CHECK
        except WitnessError as error:
            raise CliError(str(error), EXIT_FAILED_CHECK) from None
        from ledger.witness import note_body

        line = cosigner.cosign(note_body(shown), int(time.time()))
        remote.publish_cosignature(checkpoint.size, cosigner.public.encode(), line)
    state.save(shown)
    print(f"cosigned {checkpoint.origin} at size {checkpoint.size} as {cosigner.name}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ledger.verify import verify_ledger

    config = _config(args)
    from ledger.logkeys import LogKeyError, home_keys, ledger_keys, parse_verifier_keys

    vkey_path = Path(args.log_key) if args.log_key else config.log_vkey_path
    try:
        # A pinned file may list several keys (old and new); by default the home's
        # log.vkey and every retired key in log.vkey.history.
        pinned = parse_verifier_keys(vkey_path.read_text()) if args.log_key else home_keys(config)
    except OSError as error:
        raise CliError(
            f"cannot read the log's verifier key {vkey_path}: {error.strerror}", EXIT_NOT_SET_UP
        ) from None
    with _open(config) as ledger:
        try:
            vkey = ledger_keys(ledger.tables, pinned)
        except LogKeyError as error:
            raise CliError(str(error), EXIT_FAILED_CHECK) from None
        report = verify_ledger(ledger, vkey, workers=args.workers)
    if args.json:
        print(
            json.dumps(
                {**vars(report), "ok": report.ok, "problems": [vars(p) for p in report.problems]},
                indent=2,
            )
        )
    else:
        print(
            f"entries: {report.entries}  signatures verified: {report.signatures_verified}  "
            f"rules checked: {report.rules_checked}  checkpoints verified: "
            f"{report.checkpoints_verified} (latest covers {report.latest_checkpoint_size})"
        )
        if report.uncovered_entries:
            print(
                f"note: {report.uncovered_entries} entries after the latest checkpoint; "
                "run: inquiry-ledger checkpoint"
            )
        if report.ok:
            print("OK: every signature, rule, leaf and checkpoint verifies")
        else:
            first = report.first_problem()
            print(f"FAILED: {len(report.problems)} problem(s); first bad: {first}", file=sys.stderr)
            for problem in report.problems:
                print(f"  {problem}", file=sys.stderr)
    return 0 if report.ok else EXIT_FAILED_CHECK


def _require_admin(args: argparse.Namespace, ledger: Ledger, config: LedgerConfig) -> str:
    """Token management needs an administrator holding an active admin key: prove it by
    signing a fresh challenge, checked against the directory."""
    from domain import Role
    from ledger.keys import verify_signature

    signer = _signer(args, config)
    directory = ledger.require_directory()
    try:
        actor, key = directory.resolve(signer.user_id, signer.key.key_id)
    except DomainError as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    challenge = b"inquiry-ledger/admin-challenge/v1\n" + os.urandom(32)
    proof = signer.key.sign(challenge)
    if actor.role is not Role.ADMIN or not verify_signature(
        decode_public_key(key.public_key), proof, challenge
    ):
        raise CliError(f"{signer.user_id} is not an administrator", EXIT_REFUSED)
    return signer.user_id


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from api.application.tokens import TokenStore

    config = _config(args)
    with _open(config) as ledger:
        _require_admin(args, ledger, config)
        if ledger.require_directory().users.get(args.user_id) is None:
            raise CliError(f"no registered user {args.user_id}")
        token = TokenStore(ledger.tables).create(args.user_id, timedelta(days=args.days))
    print(token)
    print(
        f"(for {args.user_id}, valid {args.days} days; shown once, stored only as a hash)",
        file=sys.stderr,
    )
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from api.application.tokens import TokenStore

    config = _config(args)
    with _open(config) as ledger:
        _require_admin(args, ledger, config)
        if not TokenStore(ledger.tables).revoke(args.token_id):
            raise CliError(f"no active token {args.token_id}")
    print(f"revoked token {args.token_id}")
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from api.application.render import table
    from api.application.tokens import TokenStore

    config = _config(args)
    with _open(config) as ledger:
        _require_admin(args, ledger, config)
        tokens = TokenStore(ledger.tables).list()
    print(
        table(
            ["Token id", "User", "Created", "Expires", "Revoked"],
            [
                (
                    t.token_id,
                    t.user_id,
                    f"{t.created_at:%Y-%m-%d %H:%M}",
                    f"{t.expires_at:%Y-%m-%d}",
                    f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
                )
                for t in tokens
            ],
        )
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.http.app import create_app

    config = _config(args)
    # One JSON line per request from our own access log (never tokens or bodies);
    # uvicorn's access log would repeat each request in another format.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    app_logger = logging.getLogger("inquiry_ledger")
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    app_logger.propagate = False
    uvicorn.run(
        create_app(config), host=args.host, port=args.port, log_level="info", access_log=False
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api.application.demo import run_demo

    config = _config(args)
    return run_demo(config, data_file=Path(args.data) if args.data else None)


# -- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inquiry-ledger",
        description="Tamper-evident ledger of an inquiry's action plan.",
    )
    parser.add_argument(
        "--home", help="ledger folder (default: $INQUIRY_LEDGER_HOME or ./.inquiry-ledger)"
    )
    parser.add_argument("--as", dest="as_user", help="user who signs (or $INQUIRY_LEDGER_USER)")
    parser.add_argument(
        "--server",
        help="client mode: the server's URL (or $INQUIRY_LEDGER_SERVER); signing stays here",
    )
    parser.add_argument("--token", help="client mode: your bearer token ($INQUIRY_LEDGER_TOKEN)")
    parser.add_argument(
        "--key",
        help="signer's private key file (default HOME/keys/users/USER.key or $INQUIRY_LEDGER_KEY)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a ledger, its log key and a first administrator")
    p.add_argument(
        "--origin",
        default="inquiry-ledger.local/plan",
        help="the log's name in its checkpoints (e.g. council.example/cse-inquiry)",
    )
    p.add_argument("--admin-id", default="admin")
    p.add_argument("--admin-name", default="Ledger administrator")
    p.add_argument("--admin-key", help="use this private key file instead of generating one")
    p.set_defaults(func=cmd_init)

    keys = sub.add_parser("keys", help="key pairs").add_subparsers(dest="keys_cmd", required=True)
    p = keys.add_parser("new", help="generate a key pair; the private key stays in --out")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_keys_new)
    p = keys.add_parser("rotate", help="replace a user's keys with a new one (signed)")
    p.add_argument("user_id")
    new_key = p.add_mutually_exclusive_group(required=True)
    new_key.add_argument(
        "--public-key",
        help="the new public key (base64), e.g. one a browser made: its private half never "
        "leaves the user's side",
    )
    new_key.add_argument(
        "--new-key", dest="key_file", help="a key file (its public half is registered)"
    )
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("revoke", help="revoke a key (signed)")
    p.add_argument("user_id")
    p.add_argument("key_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_revoke)

    users = sub.add_parser("users", help="users").add_subparsers(dest="users_cmd", required=True)
    p = users.add_parser("add", help="register a user and their public key (signed by an admin)")
    p.add_argument("user_id")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--role",
        required=True,
        choices=["officer", "agency_lead", "implementation_group", "chair", "scrutiny", "admin"],
    )
    p.add_argument("--agency", help="agency id, for officers and agency leads")
    p.add_argument("--public-key", help="base64 Ed25519 public key")
    p.add_argument("--key-file", help="or: read the public key from this private key file")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", help="list users and keys")
    p.set_defaults(func=cmd_users_list)

    p = sub.add_parser("import", help="import recommendations or actions from CSV (signed)")
    p.add_argument("file")
    p.add_argument("--title", default="", help="plan title (first import)")
    p.add_argument("--source", default="", help="where the plan comes from (first import)")
    p.add_argument(
        "--expected",
        type=int,
        default=0,
        help="how many recommendations the inquiry made (first import)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("act", help="sign and append a command on an action")
    p.add_argument("action_id")
    verbs = p.add_subparsers(dest="verb", required=True)
    verbs.add_parser("start")
    verbs.add_parser("submit", help="submit the attached evidence for sign-off")
    for name in ("block", "unblock", "reopen", "revoke-sign-off", "withdraw"):
        verbs.add_parser(name).add_argument("--reason", required=True)
    v = verbs.add_parser("outcome", help="chair: not_implementable or superseded")
    v.add_argument("outcome", choices=["not_implementable", "superseded"])
    v.add_argument("--reason", required=True)
    v = verbs.add_parser("sign-off", help="sign off at your role's level")
    v.add_argument("--statement", default="")
    v = verbs.add_parser("return", help="return to the agency with reasons")
    v.add_argument("--reason", required=True, action="append")
    v = verbs.add_parser("rate")
    v.add_argument("rating", choices=["red", "amber", "green"])
    v.add_argument("--reason", required=True)
    verbs.add_parser("comment").add_argument("text")
    verbs.add_parser("challenge").add_argument("text")
    verbs.add_parser("assign").add_argument("officer")
    v = verbs.add_parser("amend")
    v.add_argument("--set", action="append", required=True, metavar="FIELD=VALUE")
    v.add_argument("--reason", required=True)
    v = verbs.add_parser("merge")
    v.add_argument("into")
    v.add_argument("--reason", required=True)
    v = verbs.add_parser("attach", help="store a file as evidence and attach it")
    v.add_argument("file")
    v.add_argument("--description", required=True)
    v.add_argument("--effective-date", required=True, help="the date the evidence speaks to")
    v = verbs.add_parser("withdraw-evidence")
    v.add_argument("sha256")
    v.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_act)

    evidence = sub.add_parser("evidence", help="evidence files").add_subparsers(
        dest="evidence_cmd", required=True
    )
    p = evidence.add_parser("add", help="upload a file, then sign and append its event")
    p.add_argument("action_id")
    p.add_argument("file")
    p.add_argument("--description", required=True)
    p.add_argument("--effective-date", required=True, help="the date the evidence speaks to")
    p.set_defaults(func=cmd_evidence_add)
    p = evidence.add_parser("get", help="download a blob, verified against its hash")
    p.add_argument("sha256")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_evidence_get)
    p = evidence.add_parser("verify", help="re-hash every blob the ledger names")
    p.set_defaults(func=cmd_evidence_verify)
    p = evidence.add_parser("orphans", help="list stored blobs no ledger entry names")
    p.set_defaults(func=cmd_evidence_orphans)
    p = evidence.add_parser("erase", help="lawful erasure: signed event, then destroy the key")
    p.add_argument("action_id")
    p.add_argument("sha256")
    p.add_argument("--reason", required=True, help="the lawful reason")
    p.set_defaults(func=cmd_evidence_erase)
    p = evidence.add_parser("url", help="a time-limited download URL (S3, unencrypted)")
    p.add_argument("sha256")
    p.add_argument("--expires", type=int, default=300, help="seconds (default 300)")
    p.set_defaults(func=cmd_evidence_url)

    p = sub.add_parser("diff", help="what changed between two dates, and who decided")
    p.add_argument("--from", dest="start", required=True, help="DATE or DATE-TIME (UTC)")
    p.add_argument("--to", dest="end", required=True, help="DATE or DATE-TIME (UTC)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("status", help="status of every recommendation and agency")
    p.add_argument("--as-of", help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--position", type=int, help="the first N log entries only")
    p.add_argument("--actions", action="store_true", help="also list every action")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="write one row per action to FILE.csv or FILE.xlsx instead")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="the progress report (HTML or PDF) from a signed checkpoint")
    p.add_argument("--as-of", required=True, help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--out", required=True, help="FILE.html or FILE.pdf")
    p.add_argument("--since", help="the previous report's date (default: 6 months before)")
    p.add_argument(
        "--checkpoint", action="store_true", help="sign a fresh checkpoint first (on the server)"
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("history", help="every signed entry of one action")
    p.add_argument("action_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("timeline", help="every decision on one action or recommendation")
    p.add_argument("action_id", nargs="?", help="an action, e.g. R10.1")
    p.add_argument("--recommendation", type=int, help="every action of recommendation N")
    p.add_argument("--as-of", help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--position", type=int, help="the first N log entries only")
    p.add_argument(
        "--limit", type=int, help="only the latest N entries (the server's default: 1000)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_timeline)

    p = sub.add_parser("projection", help="bring the as-of projection up to date now")
    p.add_argument("--rebuild", action="store_true", help="forget it and rebuild from scratch")
    p.set_defaults(func=cmd_projection)

    p = sub.add_parser("checkpoint", help="sign a checkpoint of the log as it is now")
    p.set_defaults(func=cmd_checkpoint)

    p = sub.add_parser("verify", help="re-check every signature, rule, leaf and checkpoint")
    p.add_argument(
        "--log-key", help="the log's verifier key file you pinned (default HOME/log.vkey)"
    )
    p.add_argument("--workers", type=int, default=None, help="signature-checking processes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    witness = sub.add_parser("witness", help="witness cosigning (chair, scrutiny)")
    witness_sub = witness.add_subparsers(dest="witness_cmd", required=True)
    p = witness_sub.add_parser("new-key", help="a witness key pair; the private key stays here")
    p.add_argument("--name", required=True, help="the witness's name, e.g. chair.example.org")
    p.add_argument("--out", required=True, help="private key file to write (mode 0600)")
    p.set_defaults(func=cmd_witness_new_key)
    p = witness_sub.add_parser("cosign", help="check the latest checkpoint and cosign it")
    p.add_argument("--name", required=True, help="the witness's name (as in its key)")
    p.add_argument("--key", required=True, help="the witness's private key file")
    p.add_argument("--log-key", required=True, help="the log's verifier key file you pinned")
    p.add_argument("--state", required=True, help="folder remembering what you cosigned")
    p.set_defaults(func=cmd_witness_cosign)

    p = sub.add_parser("export", help="write an audit bundle of the whole log")
    p.add_argument("--out", required=True, help="a new folder, or a file ending in .zip")
    p.add_argument("--log-key", help="with --server: the log's verifier key you pinned")
    p.add_argument("--evidence", action="store_true", help="include every evidence blob")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("verify-bundle", help="verify an audit bundle independently")
    p.add_argument("bundle", help="the bundle folder or .zip")
    p.add_argument("--log-key", help="the log's verifier key file you pinned (recommended)")
    p.add_argument(
        "--since",
        action="append",
        help="a checkpoint note saved earlier (repeatable: yours, other witnesses'): "
        "prove no rewrite, and no split view between them",
    )
    p.add_argument(
        "--witness-key",
        action="append",
        help="a witness key file to check cosignatures against (repeatable)",
    )
    p.add_argument("--evidence", action="store_true", help="re-hash every blob in the bundle")
    p.add_argument(
        "--rules", action="store_true", help="also replay the lifecycle rules (domain code)"
    )
    p.add_argument("--report", default=".", help="folder for the JSON and HTML report")
    p.set_defaults(func=cmd_verify_bundle)

    tokens = sub.add_parser("tokens", help="API bearer tokens (administrators)")
    tokens_sub = tokens.add_subparsers(dest="tokens_cmd", required=True)
    p = tokens_sub.add_parser("create", help="create a token for a user; printed once")
    p.add_argument("user_id")
    p.add_argument("--days", type=int, default=30, help="lifetime in days (default 30)")
    p.set_defaults(func=cmd_tokens_create)
    p = tokens_sub.add_parser("revoke", help="revoke a token by its id")
    p.add_argument("token_id")
    p.set_defaults(func=cmd_tokens_revoke)
    p = tokens_sub.add_parser("list", help="list tokens (never their secrets)")
    p.set_defaults(func=cmd_tokens_list)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="seed the Telford plan with a simulated history and show it")
    p.add_argument(
        "--data", help="recommendations CSV (default: the Telford list in api/application/data/)"
    )
    p.set_defaults(func=cmd_demo)

    from api.cli.remind import add_remind_parser

    add_remind_parser(sub)

    from api.cli.ops import add_parsers as add_ops_parsers  # backup, restore, log-key

    add_ops_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _refuse_remote_for_local_commands(args)
        code: int = args.func(args)
        return code
    except BrokenPipeError:
        # The reader went away (`inquiry-ledger status | head`): stop quietly, like other
        # Unix tools. Not by restoring SIGPIPE's default action, which would also kill
        # `serve` (or a long import) when a signature worker process dies mid-write
        # instead of letting ledger/sigpool.py verify that batch in-process.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CliError as error:
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return error.code
    except NotInitialised as error:
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_NOT_SET_UP
    except (DomainError, LedgerError) as error:
        print(f"inquiry-ledger: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except (
        KeyFileError,
        ConfigError,
        NoteError,
        EvidenceError,
        EntryFormatError,
        CanonicalFormError,
    ) as error:
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as error:
        from api.application.commands import CommandError

        if isinstance(error, CommandError):
            print(f"inquiry-ledger: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
