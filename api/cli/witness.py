"""`witness new-key` and `witness cosign`: a witness (the chair, scrutiny) checks that each
checkpoint extends the last one it cosigned, and publishes its cosignature."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from api.cli.common import (
    EXIT_FAILED_CHECK,
    CliError,
    Parsers,
    Subparsers,
    read_text,
    remote_for,
)
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.rotation import LogKeyError, LogKeys, parse_verifier_keys
from ledger.keys import KeyPair
from ledger.witness import SplitView, WitnessError, WitnessState, check_extends


def cmd_witness_new_key(args: argparse.Namespace) -> int:
    key = KeyPair.generate()
    cosigner = Cosigner(args.name, key)  # refuses a bad name before any file is written
    key.write(Path(args.out))
    print(f"witness private key written to {args.out} (mode 0600); keep it on your side")
    print(f"witness key (publish it; readers pin it): {cosigner.public.encode()}")
    return 0


def cmd_witness_cosign(args: argparse.Namespace) -> int:
    """Fetch the latest checkpoint, check it extends the last one this witness cosigned,
    cosign it and publish the cosignature. A split view is kept as evidence and fails."""
    remote = remote_for(args)
    if remote is None:
        raise CliError("witness cosign talks to the log's server: pass --server and --token")
    from api.cli.remote import RemoteSource

    # One key a line: after a log-key rotation, the old key and the new one.
    pinned = parse_verifier_keys(read_text(args.log_key, "log verifier key"))
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
        line = cosigner.cosign(note_body(shown), int(time.time()))
        remote.publish_cosignature(checkpoint.size, cosigner.public.encode(), line)
    state.save(shown)
    print(f"cosigned {checkpoint.origin} at size {checkpoint.size} as {cosigner.name}")
    return 0


def _add_witness(sub: Subparsers) -> None:
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


PARSERS: Parsers = {"witness": _add_witness}
