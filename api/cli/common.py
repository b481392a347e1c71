"""What every command of the CLI shares: exit codes, errors, the ledger folder, the signer,
client mode (--server), and turning what went wrong into a message and an exit status.

Every command works inside INQUIRY_LEDGER_HOME (or --home). Commands that change the
ledger sign on the caller's side with the caller's private key file (--as USER, --key
FILE; by default HOME/keys/users/USER.key) and the ledger verifies before it appends.

Exit status: 0 done; 1 verification found a problem; 2 bad input or usage;
3 refused by the ledger (rule, signature, conflict); 4 not set up.

This module imports no command module; the command modules import it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import httpx

from api.application.checkpoints import held_log_signer
from api.application.commands import Client, CommandError, ReceiptIssuer, local_receipts
from api.application.evidence import ConfiguredEvidence, attach_file
from api.application.receipts import ReceiptBook, receipts_path
from api.cli.http_client import ServerProblem, describe
from domain import DomainError
from evidence_store.base import EvidenceError, storage_full
from ledger.auditor.canonical import CanonicalFormError
from ledger.auditor.ed25519 import decode_public_key
from ledger.auditor.entry import EntryFormatError
from ledger.auditor.note import NoteError, NoteSigner
from ledger.auditor.receipt import ReceiptError
from ledger.config import ConfigError, LedgerConfig
from ledger.errors import LedgerError, NotInitialised
from ledger.keys import KeyFileError, KeyPair
from ledger.service import Appended, Ledger
from ledger.signer import Signer
from projections.asof import parse_as_of

if TYPE_CHECKING:
    from api.cli.remote import RemoteLedger

EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_NOT_SET_UP = 4
EXIT_UNAVAILABLE = 5  # the server (client mode) or the database cannot be reached, or is down
EXIT_BROKEN_PIPE = 141  # what a shell reports for a tool that SIGPIPE stopped

#: `sub` of `parser.add_subparsers()`, which each command module adds its commands to.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
#: A command module's registry: command name -> the function that adds its parser.
Parsers: TypeAlias = dict[str, Callable[[Subparsers], None]]


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


# -- the ledger folder, the signer -------------------------------------------------------


def config_from(args: argparse.Namespace) -> LedgerConfig:
    env = dict(os.environ)
    if args.home:
        env["INQUIRY_LEDGER_HOME"] = args.home
    return LedgerConfig.from_env(env)


def open_ledger(config: LedgerConfig, *, must_exist: bool = True) -> Ledger:
    if must_exist and not config.uses_postgres and not config.sqlite_path.exists():
        raise CliError(f"no ledger in {config.home}; run: inquiry-ledger init", EXIT_NOT_SET_UP)
    evidence = ConfiguredEvidence(config.home)
    ledger = Ledger(config, evidence=evidence)
    evidence.keep_keys_in(ledger.tables)  # where an S3 store keeps its data keys
    if must_exist and ledger.directory() is None:
        ledger.close()
        raise CliError(
            f"no ledger in {config.describe_store()}; run: inquiry-ledger init", EXIT_NOT_SET_UP
        )
    return ledger


def signer_for(args: argparse.Namespace, config: LedgerConfig, origin: str) -> Signer:
    """The caller's signer for the log `origin` (every body names the log it is for)."""
    user = args.as_user or os.environ.get("INQUIRY_LEDGER_USER")
    if not user:
        raise CliError("say who is signing: --as USER (or INQUIRY_LEDGER_USER)")
    key_path = Path(args.key or os.environ.get("INQUIRY_LEDGER_KEY") or config.user_key_path(user))
    return Signer(user, KeyPair.read(key_path), origin)


def log_signer(ledger: Ledger, config: LedgerConfig) -> NoteSigner:
    return NoteSigner(ledger.origin(), KeyPair.read(config.log_key_path))


def recommendation_number(ledger: Any, text: str) -> int:
    """The number of the recommendation `text` names: digits are taken as a number (the
    domain says if it is a former one, or none), anything else as the inquiry's reference
    ("113.6", "K10.1": domain/references.py)."""
    typed = text.strip()
    if typed.isascii() and typed.isdigit():
        return int(typed)
    plan = ledger.plan()
    found = plan.find(typed) if plan is not None else None
    if found is None:
        raise CliError(f"no recommendation {typed!r} in the plan (give its number or reference)")
    return int(found)


# -- client mode -------------------------------------------------------------------------

#: Commands that also work in client mode (--server); the rest need the ledger's folder.
REMOTE_COMMANDS = {
    ("act", None),
    ("challenge", "raise"),
    ("challenge", "answer"),
    ("challenge", "close"),
    ("challenge", "escalate"),
    ("challenge", "list"),
    ("challenge", "show"),
    ("status", None),
    ("diff", None),
    ("history", None),
    ("report", None),
    ("timeline", None),
    ("users", "add"),
    ("charter", "adopt"),
    ("users", "list"),
    ("import", None),
    ("backfill", None),
    ("plan", "respond"),
    ("plan", "vocabulary"),
    ("plan", "words"),  # show reads /v1/status; set signs here and appends there
    ("checkpoint", None),
    ("keys", "rotate"),
    ("keys", "revoke"),
    ("keys", "add"),
    ("users", "change-role"),
    ("users", "deactivate"),
    ("users", "reactivate"),
    ("evidence", "add"),
    ("evidence", "get"),
    ("evidence", "publish"),
    ("evidence", "unpublish"),
    ("sign", None),  # opens no ledger at all: reads a body and a key, prints a signature
    ("verify-bundle", None),  # reads only the bundle given, wherever it came from
    ("witness", "cosign"),
    ("export", None),
    ("witness", "new-key"),
    ("witness", "serve"),  # the witness's own side: opens no ledger
    ("receipts", "list"),
    ("receipts", "check"),
}


def server_of(args: argparse.Namespace) -> str | None:
    """The server's URL in client mode (--server or INQUIRY_LEDGER_SERVER), else None."""
    return args.server or os.environ.get("INQUIRY_LEDGER_SERVER") or None


def remote_for(args: argparse.Namespace) -> RemoteLedger | None:
    """The server to talk to, when --server (or INQUIRY_LEDGER_SERVER) is given."""
    server = server_of(args)
    if not server:
        return None
    token = args.token or os.environ.get("INQUIRY_LEDGER_TOKEN")
    if not token:
        raise CliError("client mode needs a token: --token TOKEN (or INQUIRY_LEDGER_TOKEN)")
    from api.cli.remote import RemoteLedger  # httpx: only client mode needs it

    return RemoteLedger(server, token)


def refuse_remote_for_local_commands(args: argparse.Namespace) -> None:
    if server_of(args) is None:
        return
    sub = getattr(args, f"{args.command}_cmd", None)
    if (args.command, sub) not in REMOTE_COMMANDS:
        name = f"{args.command} {sub}" if sub else args.command
        raise CliError(f"'{name}' works on the server's own ledger folder, not in client mode")


def client_for(args: argparse.Namespace) -> tuple[Any, Client]:
    """(ledger or remote ledger, a signing client). Signing is always on this side."""
    config = config_from(args)
    remote = remote_for(args)
    ledger = remote if remote is not None else open_ledger(config)
    try:
        origin = ledger.origin()
        if remote is not None:
            check_known_log(config.home, remote.base_url, origin)
    except BaseException:
        ledger.close()
        raise
    receipts = _local_receipts(ledger, config) if isinstance(ledger, Ledger) else None
    return ledger, Client(ledger, signer_for(args, config, origin), receipts)


def check_known_log(home: Path, server: str, origin: str) -> None:
    """Sign only for the log this caller means. The origin a server states is inside every
    body signed for it, so a server naming another log (a training server calling itself
    production) would collect signatures valid there. $INQUIRY_LEDGER_ORIGIN pins it;
    otherwise the first origin a server states is remembered (HOME/known-logs.json) and a
    server that later names another is refused."""
    pinned = os.environ.get("INQUIRY_LEDGER_ORIGIN")
    if pinned and pinned != origin:
        raise CliError(
            f"the server {server} says it is the log {origin!r}, but INQUIRY_LEDGER_ORIGIN "
            f"is {pinned!r}: nothing signed"
        )
    path = home / "known-logs.json"
    try:
        known = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error}") from None
    if not isinstance(known, dict):
        raise CliError(f"{path} is not a JSON object of server: origin")
    said = known.get(server)
    if said is None:
        known[server] = origin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
        print(f"{server} is the log {origin} (remembered in {path})", file=sys.stderr)
    elif said != origin:
        raise CliError(
            f"the server {server} now says it is the log {origin!r}, but it was {said!r}: "
            f"nothing signed (if the log really changed, remove it from {path})"
        )


def _local_receipts(ledger: Ledger, config: LedgerConfig) -> ReceiptIssuer | None:
    """Receipts signed on this side when this side holds the log key (local mode); in
    client mode the server issues them. Without a readable log key: no receipts."""
    signer = held_log_signer(ledger, config)
    return None if signer is None else local_receipts(ledger, signer)


def receipt_book(args: argparse.Namespace, origin: str) -> ReceiptBook:
    """The caller's receipts file for the log `origin` (api/application/receipts.py)."""
    return ReceiptBook(receipts_path(config_from(args).home, origin))


def evidence_store(ledger: Any) -> Any:
    """Where the ledger's evidence blobs are: the configured store, or the server's."""
    from api.cli.remote import RemoteEvidence, RemoteLedger

    if isinstance(ledger, RemoteLedger):
        return RemoteEvidence(ledger)
    assert isinstance(ledger.evidence, ConfiguredEvidence)
    return ledger.evidence.store


# -- arguments and output ----------------------------------------------------------------


def moment(text: str) -> datetime:
    try:
        return parse_as_of(text)
    except ValueError:
        raise CliError(f"not a date or date-time: {text!r} (use YYYY-MM-DD[THH:MM])") from None


def read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read the {what} {path}: {error.strerror}") from None


def output_file(path_text: str) -> Path:
    """A file to write: its folder must exist, and it must not be a folder itself."""
    out = Path(path_text)
    if not out.parent.is_dir():
        raise CliError(f"no folder {out.parent} to write {out.name} in")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give a file name")
    return out


def public_key_from(args: argparse.Namespace) -> bytes:
    """A user's public key: --public-key BASE64, or the public half of a key file."""
    if args.public_key:
        try:
            return decode_public_key(args.public_key)
        except ValueError as error:
            raise CliError(f"--public-key: {error}") from None
    if args.key_file:
        return KeyPair.read(Path(args.key_file)).public_key
    raise CliError("give the user's public key: --public-key BASE64 or a key file")


def attach_evidence_file(
    client: Client,
    action_id: str,
    file: str,
    *,
    description: str,
    effective_date: str,
    store: Any = None,
) -> Appended:
    """Store a file as evidence (in `store`, by default the ledger's), then sign and
    append the event that attaches it."""
    try:
        return attach_file(
            client,
            store if store is not None else evidence_store(client.ledger),
            action_id,
            Path(file),
            description=description,
            effective_date=effective_date,
        )
    except FileNotFoundError:
        raise CliError(f"no such file: {file}") from None
    except PermissionError:
        raise CliError(f"cannot read {file}: permission denied") from None


def print_appended(results: Sequence[Any], args: argparse.Namespace | None = None) -> None:
    """Say what was appended; with `args`, keep every receipt in the caller's receipts
    file, on this side, where the operator cannot take it back."""
    for r in results:
        print(f"appended entry {r.leaf_index}: {r.type} v{r.version}")
    if args is not None:
        keep_receipts(results, args)


def keep_receipts(results: Sequence[Any], args: argparse.Namespace) -> None:
    """Keep the receipts among `results` in the caller's receipts file and say where."""
    receipted = [r for r in results if getattr(r, "receipt", None) is not None]
    if len(receipted) < len(results) and server_of(args) is not None:
        # A server that stops giving receipts takes away the one thing a client can hold
        # it to (receipts check): say so every time.
        missing = ", ".join(str(r.leaf_index) for r in results if r not in receipted)
        print(
            f"inquiry-ledger: warning: the server gave no receipt for entry {missing}; "
            "without one you cannot check later that it is still in the log (ask the "
            "operator why)",
            file=sys.stderr,
        )
    if not receipted:
        return
    checkpoint = receipted[-1].receipt.claimed_checkpoint()
    book = receipt_book(args, checkpoint.origin)
    book.keep(receipted)
    print(f"receipt under checkpoint {checkpoint.size} kept in {book.path}")


def receipted(ledger: Any, config: LedgerConfig, results: list[Any]) -> list[Any]:
    """`results` with receipts: the server's already carry them (client mode); in local
    mode they are signed here when this side holds the log key."""
    if not isinstance(ledger, Ledger):
        return results
    issuer = _local_receipts(ledger, config)
    return results if issuer is None else list(issuer(results))


# -- running a command -------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; say what went wrong, if anything, and return the exit status."""
    try:
        refuse_remote_for_local_commands(args)
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
    except ServerProblem as error:  # client mode: no answer, or not the API's
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except httpx.TransportError as error:
        print(f"inquiry-ledger: {describe(error, server_of(args) or '?')}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except NotInitialised as error:
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_NOT_SET_UP
    except (DomainError, LedgerError) as error:
        print(f"inquiry-ledger: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except ReceiptError as error:  # a server's receipt that does not prove the append
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_FAILED_CHECK
    except (
        KeyFileError,
        ConfigError,
        NoteError,
        EvidenceError,
        EntryFormatError,
        CanonicalFormError,
        CommandError,
    ) as error:
        print(f"inquiry-ledger: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        from api.http.unavailable import DATABASE_ERRORS  # the errors `serve` answers 503

        if isinstance(error, DATABASE_ERRORS) and not storage_full(error):
            print(
                f"inquiry-ledger: the database is unavailable ({type(error).__name__}); "
                "retry shortly",
                file=sys.stderr,
            )
            return EXIT_UNAVAILABLE
        if not storage_full(error):
            raise
        # A full disk under the evidence folder or the database (an OSError, or the
        # database's error wrapping one): one line, not a traceback; like the other
        # faults of the environment (a key file, the configuration), exit status 2.
        print(
            "inquiry-ledger: no space left: the disk (or quota) is full; free space and run "
            "the command again",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
