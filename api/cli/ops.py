"""Operator commands of the CLI: `backup`, `restore`, `log-key rotate` and `log-key add-pq`.

All three work on the ledger's own folder and database, never through a server (the CLI
refuses them with --server).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.application.backup import RestoreVerificationFailed, backup, read_passphrase, restore
from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED_CHECK,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    open_ledger,
    read_text,
)
from ledger.auditor.rotation import LogKeyError
from ledger.backup_archive import BackupError
from ledger.keys import KeyFileError
from ledger.logkeys import rotate_log_key
from ledger.pqkeys import add_pq_log_key, pq_binding, pq_key_path, pq_vkey_path


def cmd_backup(args: argparse.Namespace) -> int:
    config = config_from(args)
    open_ledger(config).close()  # the same "not set up" answer as every other command
    try:
        summary = backup(
            config,
            Path(args.out),
            read_passphrase(args.passphrase_file),
            with_evidence=args.evidence,
        )
    except BackupError as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"backup failed, nothing written: {_os_error(error)}") from None
    print(
        f"backed up {summary.entries} entries, {summary.checkpoints} checkpoints (latest covers "
        f"{summary.latest_checkpoint}), {summary.secret_files} key files (encrypted) and "
        f"{summary.evidence_named} evidence records ({summary.evidence_blobs} blobs) to "
        f"{summary.path} (mode 0600)"
    )
    if summary.evidence_missing:
        print(
            f"warning: {len(summary.evidence_missing)} named blob(s) not in the local folder: "
            + ", ".join(summary.evidence_missing[:5]),
            file=sys.stderr,
        )
    if not args.evidence:
        print("evidence blobs are not in the backup: they stay in the evidence store")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    config = config_from(args)
    since = [read_text(path, "saved checkpoint") for path in args.since or []]
    try:
        summary = restore(
            config, Path(args.file), read_passphrase(args.passphrase_file), since=since
        )
    except BackupError as error:
        code = EXIT_FAILED_CHECK if isinstance(error, RestoreVerificationFailed) else EXIT_BAD_INPUT
        raise CliError(str(error), code) from None
    except OSError as error:
        raise CliError(f"restore failed, nothing restored: {_os_error(error)}") from None
    print(f"restored {summary.entries} entries into {summary.store} and {config.home}")
    print(
        f"verified: {summary.signatures_verified} signatures, {summary.checkpoints_verified} "
        f"checkpoints; log key {summary.log_key}"
    )
    for size in summary.since_checked:
        print(f"consistent with the checkpoint of size {size} saved earlier")
    if summary.uncovered_entries:
        print(f"note: {summary.uncovered_entries} entries after the latest checkpoint")
    print(
        f"re-applied {summary.erasures_reapplied} evidence erasure(s) from the restored log "
        f"({summary.keys_destroyed} data key(s) in the backup destroyed again)"
    )
    return 0


def cmd_log_key_rotate(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_ledger(config) as ledger:
        try:
            result = rotate_log_key(config, ledger)
        except LogKeyError as error:
            raise CliError(str(error)) from None
    rotation = result.rotation
    print(f"log key rotated at tree size {rotation.size}")
    print(f"retired key (kept in {config.home / 'log.vkey.history'}): {rotation.old.encode()}")
    print(f"new log verifier key (publish it; auditors pin it): {rotation.new.encode()}")
    print("the rotation statement is signed by both keys and recorded in the ledger:")
    print(rotation.note, end="")
    return 0


def cmd_log_key_add_pq(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_ledger(config) as ledger:
        try:
            recorded = pq_binding(ledger.tables)
            binding = add_pq_log_key(config, ledger)
        except (LogKeyError, KeyFileError) as error:
            raise CliError(str(error)) from None
    if recorded is not None:  # its own key: only the files were checked (or finished)
        print(
            f"this ledger already has its post-quantum log key {binding.pq.label} (added at "
            f"size {binding.size}); nothing changed; verifier key: {pq_vkey_path(config)}"
        )
        return 0
    print(
        f"post-quantum (ML-DSA-44) log key {binding.pq.label} added: every checkpoint of a "
        f"tree larger than {binding.size} carries its signature beside the log key's"
    )
    print(f"private key: {pq_key_path(config)} (mode 0600; back it up with the log key)")
    print(
        f"verifier key (publish it; auditors pin it with verify-bundle --pq-log-key): "
        f"{pq_vkey_path(config)}"
    )
    print("the statement binding it to the log key, signed by both, is recorded in the ledger")
    return 0


def _os_error(error: OSError) -> str:
    return f"{error.filename}: {error.strerror}" if error.filename else str(error)


def _add_backup(sub: Subparsers) -> None:
    p = sub.add_parser("backup", help="write the whole ledger to one file (keys encrypted)")
    p.add_argument("--out", required=True, help="the backup file to create (mode 0600)")
    p.add_argument("--evidence", action="store_true", help="also copy the local evidence blobs")
    p.add_argument(
        "--passphrase-file",
        help="file (mode 0600) holding the passphrase; default $INQUIRY_LEDGER_BACKUP_PASSPHRASE",
    )
    p.set_defaults(func=cmd_backup)


def _add_restore(sub: Subparsers) -> None:
    p = sub.add_parser("restore", help="restore a backup into an empty home and database")
    p.add_argument("file", help="the backup file")
    p.add_argument(
        "--passphrase-file",
        help="file (mode 0600) holding the passphrase; default $INQUIRY_LEDGER_BACKUP_PASSPHRASE",
    )
    p.add_argument(
        "--since",
        action="append",
        help="a checkpoint note saved before the backup: the restored log must extend it",
    )
    p.set_defaults(func=cmd_restore)


def _add_log_key(sub: Subparsers) -> None:
    log_key = sub.add_parser("log-key", help="the log's own signing key")
    log_key_sub = log_key.add_subparsers(dest="log_key_cmd", required=True)
    p = log_key_sub.add_parser(
        "rotate", help="retire the log key: a handover checkpoint, then a new key"
    )
    p.set_defaults(func=cmd_log_key_rotate)
    p = log_key_sub.add_parser(
        "add-pq",
        help="give the log its second, post-quantum (ML-DSA-44) key: signs every checkpoint "
        "from now on beside the log key (needs the log key; once per ledger)",
    )
    p.set_defaults(func=cmd_log_key_add_pq)


PARSERS: Parsers = {"backup": _add_backup, "restore": _add_restore, "log-key": _add_log_key}
