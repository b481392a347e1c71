"""`witness new-key`, `witness cosign` and `witness serve`: a witness (the chair, scrutiny)
checks that each checkpoint extends the last one it cosigned, and cosigns it.

`cosign` pulls: it fetches the log's latest checkpoint and posts its cosignature back.
`serve` is pushed to: a C2SP tlog-witness server whose POST /add-checkpoint the log's
server calls after each checkpoint it signs (INQUIRY_LEDGER_WITNESSES,
api/application/witness_push.py). Both keep the same state folder (ledger/witness.py),
so a witness may switch between them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from api.cli.common import (
    EXIT_FAILED_CHECK,
    CliError,
    Parsers,
    Subparsers,
    read_text,
    remote_for,
)
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.merkle import verify_consistency
from ledger.auditor.note import NoteError
from ledger.auditor.rotation import LogKeyError, LogKeys, parse_verifier_keys
from ledger.keys import KeyPair
from ledger.tlog_witness import (
    MAX_MESSAGE_BYTES,
    SIZE_CONTENT_TYPE,
    WireFormatError,
    build_cosignatures,
    build_size,
    parse_add_checkpoint,
)
from ledger.witness import SplitView, WitnessError, WitnessState, check_extends

log = logging.getLogger("inquiry_ledger.witness")


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


# -- witness serve: the witness side of C2SP tlog-witness --------------------------------


class Answer:
    """An HTTP answer of the witness: status, Content-Type and body."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        self.status = status
        self.body = body
        self.content_type = content_type

    @classmethod
    def text(cls, status: int, message: str) -> Answer:
        return cls(status, (message + "\n").encode())


class TlogWitness:
    """POST /add-checkpoint for one log (the origin its pinned keys name), C2SP
    tlog-witness, answered in the spec's order: 400 malformed, 404 another origin, 403
    no valid signature by a pinned key (only the keys pinned: a rotation list from the
    log is not asked for, so the log cannot hand this witness a key), 400 an old size
    above the checkpoint's, 409 (text/x.tlog.size) an old size other than the one last
    cosigned, 422 a proof that fails, 409 the same size with another root, and 200 the
    cosignature line once the checkpoint is saved as the new state.

    Checking the old size and saving the new state happen under one lock, so two
    requests cannot roll the state back (the race the spec describes); one process per
    state folder. A same-size fork is kept as evidence, as `witness cosign` keeps it:
    both notes are signed by the log key, so together they prove the log forked. A
    failing proof is answered 422 and logged, but not kept: the proof is not signed,
    and anyone may send a signed checkpoint with a garbled one."""

    def __init__(
        self,
        cosigner: Cosigner,
        log_keys: LogKeys,
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self.log_keys = log_keys
        self.origin = log_keys.pinned[0].name
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()
        self.latest()  # refuse to start on a state these keys do not verify

    def latest(self) -> Checkpoint | None:
        """The checkpoint last cosigned, checked with the pinned keys."""
        note = self.state.latest()
        if note is None:
            return None
        try:
            checkpoint = self.log_keys.verify_checkpoint(note)
        except NoteError as error:
            raise WitnessError(
                f"the saved state {self.state.latest_path} does not verify with the pinned "
                f"log key: {error}"
            ) from None
        if checkpoint.origin != self.origin:
            raise WitnessError(f"the saved state is for {checkpoint.origin}, not {self.origin}")
        return checkpoint

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = parse_add_checkpoint(body)
            claimed = Checkpoint.parse_body(note_body(request.checkpoint))
        except (WireFormatError, NoteError) as error:
            return Answer.text(400, f"malformed add-checkpoint request: {error}")
        if claimed.origin != self.origin:
            return Answer.text(404, f"this witness does not follow {claimed.origin[:100]!r}")
        try:
            shown = self.log_keys.verify_checkpoint(request.checkpoint)
        except NoteError as error:
            return Answer.text(403, str(error))
        if request.old_size > shown.size:
            return Answer.text(400, f"old size {request.old_size} > checkpoint {shown.size}")
        with self._lock:
            seen = self.latest()
            seen_size = 0 if seen is None else seen.size
            if request.old_size != seen_size:
                return Answer(409, build_size(seen_size), SIZE_CONTENT_TYPE)
            if seen is not None and seen.size == shown.size:
                if seen.root_hash != shown.root_hash:
                    return self._split_view(request.checkpoint, seen_size)
                if request.proof:
                    return Answer.text(422, "the proof between equal sizes is empty")
            elif seen is None:
                if request.proof:
                    return Answer.text(422, "the consistency proof from size 0 is empty")
            elif not verify_consistency(
                seen.size, shown.size, seen.root_hash, shown.root_hash, request.proof
            ):
                log.warning(
                    "checkpoint %d of %s: the consistency proof from %d does not verify",
                    shown.size,
                    self.origin,
                    seen.size,
                )
                return Answer.text(
                    422, f"the consistency proof from {seen.size} to {shown.size} fails"
                )
            self.state.save(request.checkpoint)
            line = self.cosigner.cosign(note_body(request.checkpoint), int(self.clock()))
        log.info("cosigned %s at size %d", self.origin, shown.size)
        return Answer(200, build_cosignatures([line]))

    def _split_view(self, shown_note: str, size: int) -> Answer:
        seen_note = self.state.latest()
        assert seen_note is not None
        error = SplitView(
            f"SPLIT VIEW: two signed checkpoints of size {size} with different roots",
            seen_note,
            shown_note,
        )
        evidence = self.state.record_split_view(error)
        log.error("%s; both signed checkpoints kept in %s", error, evidence)
        return Answer(409, build_size(size), SIZE_CONTENT_TYPE)


class _WitnessHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (the spec asks for it); every answer has a length."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle or slow connection is kept
    server: WitnessServer

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._send(Answer.text(404, "POST /add-checkpoint"))
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not (length_text.isascii() and length_text.isdigit()):
            self._send(Answer.text(411, "a Content-Length is required"), close=True)
            return
        length = int(length_text)
        if length > MAX_MESSAGE_BYTES:
            self._send(Answer.text(413, "too large for an add-checkpoint request"), close=True)
            return
        try:
            body = self.rfile.read(length)
        except OSError:  # a client that stopped sending (the timeout) or went away
            self.close_connection = True
            return
        try:
            answer = self.server.witness.add_checkpoint(body)
        except Exception:  # the witness's own fault (its state, its disk): not the log's
            log.exception("add-checkpoint failed")
            answer = Answer.text(500, "the witness failed; see its log")
        self._send(answer)

    def do_GET(self) -> None:
        self._send(Answer.text(405, "this witness answers POST /add-checkpoint"))

    def _send(self, answer: Answer, *, close: bool = False) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)


class WitnessServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer answering for one TlogWitness."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: TlogWitness) -> None:
        self.witness = witness
        super().__init__(address, _WitnessHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def witness_server(args: argparse.Namespace) -> WitnessServer:
    """The server `witness serve` runs, after checking every argument: a usage error is
    a clear message before anything listens."""
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, not {args.port}")
    cosigner = Cosigner(args.name, KeyPair.read(Path(args.key)))
    pinned = parse_verifier_keys(read_text(args.log_key, "log verifier key"))
    if len({key.name for key in pinned}) != 1:
        raise CliError("the pinned log keys name more than one log; one log per witness serve")
    try:
        log_keys = LogKeys(pinned)
    except LogKeyError as error:
        raise CliError(f"{error}; witness serve checks with one pinned key") from None
    state_folder = Path(args.state)
    if state_folder.exists() and not state_folder.is_dir():
        raise CliError(f"--state {state_folder} is not a folder")
    try:
        witness = TlogWitness(cosigner, log_keys, WitnessState(state_folder))
    except WitnessError as error:
        raise CliError(str(error), EXIT_FAILED_CHECK) from None
    try:
        return WitnessServer((args.host, args.port), witness)
    except OSError as error:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None


def cmd_witness_serve(args: argparse.Namespace) -> int:
    """Answer the log's add-checkpoint requests until interrupted."""
    server = witness_server(args)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    witness = server.witness
    print(
        f"witness {witness.cosigner.name} for {witness.origin}: POST "
        f"{server.url}/add-checkpoint (witness key {witness.cosigner.public.encode()})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.removeHandler(handler)
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
    p = witness_sub.add_parser(
        "serve", help="a C2SP tlog-witness server the log pushes checkpoints to"
    )
    p.add_argument("--name", required=True, help="the witness's name (as in its key)")
    p.add_argument("--key", required=True, help="the witness's private key file")
    p.add_argument("--log-key", required=True, help="the log's verifier key file you pinned")
    p.add_argument("--state", required=True, help="folder remembering what you cosigned")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8081, help="port to listen on (8081; 0: any)")
    p.set_defaults(func=cmd_witness_serve)


PARSERS: Parsers = {"witness": _add_witness}
