"""Ed25519 signature checks on a persistent pool of worker processes.

Why processes and not threads: `cryptography` 50's ``Ed25519PublicKey.verify`` does
release the GIL during the OpenSSL call, but a verifying thread must take the GIL back
after every signature, and while the caller runs Python code (checking the rules of the
next entries, which is the point of overlapping) it gets it only when the caller's
5 ms switch interval expires. Measured (bench/README.md): two threads verify ~2x faster
than one only while the caller sleeps; beside a busy caller they fall below one thread.
Verification is the largest single cost of an append and of a full verification, so it
goes to one worker process per core while the caller carries on with its own work
(parsing, rules, hashing); the caller then waits for every verdict before it acts on
any of them.

The workers are plain child processes (``python -I -c ...``), not `multiprocessing`'s:
nothing is forked from a process that runs threads (database pools, the HTTP server), and
a worker does not re-run the parent's ``__main__`` (spawn and forkserver do), so any
script may append a large batch. A worker runs only the standalone auditor's verifier
(ledger/auditor/ed25519.py), which imports the standard library and `cryptography`; it
reads length-prefixed batches on stdin and answers with the positions that fail, in
order, and exits when its stdin closes (so it never outlives the process that started
it). The pool starts lazily, the first time a batch is large enough to be worth it
(starting costs ~50 ms; a round trip ~0.1 ms), and is kept for the life of the process.
If a worker dies, its batches are verified in the caller instead: the verdict never
depends on the pool.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ledger.auditor.ed25519 import verify_signature

#: (raw 32-byte public key, 64-byte signature, signed message)
Check = tuple[bytes, bytes, bytes]

_HEADER = struct.Struct("!II")  # number of checks, bytes that follow
_FIELDS = struct.Struct("!III")  # lengths of key, signature, message
_COUNT = struct.Struct("!I")


def failed_positions(batch: Sequence[Check]) -> list[int]:
    """Positions in `batch` whose signature does not verify."""
    return [
        position
        for position, (public_key, signature, message) in enumerate(batch)
        if not verify_signature(public_key, signature, message)
    ]


def encode_batch(batch: Sequence[Check]) -> bytes:
    parts = []
    for public_key, signature, message in batch:
        parts.append(_FIELDS.pack(len(public_key), len(signature), len(message)))
        parts += (public_key, signature, message)
    body = b"".join(parts)
    return _HEADER.pack(len(batch), len(body)) + body


def decode_batch(count: int, body: bytes) -> list[Check]:
    checks: list[Check] = []
    at = 0
    for _ in range(count):
        key_len, sig_len, msg_len = _FIELDS.unpack_from(body, at)
        at += _FIELDS.size
        key = body[at : at + key_len]
        at += key_len
        signature = body[at : at + sig_len]
        at += sig_len
        checks.append((key, signature, body[at : at + msg_len]))
        at += msg_len
    if at != len(body):
        raise ValueError("malformed signature batch")
    return checks


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def serve(stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """The worker's loop: a batch in, its failing positions out, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; EOF ends us
    source = stdin if stdin is not None else sys.stdin.buffer
    sink = stdout if stdout is not None else sys.stdout.buffer
    while True:
        header = _read_exact(source, _HEADER.size)
        if header is None:
            return
        count, length = _HEADER.unpack(header)
        body = _read_exact(source, length)
        if body is None:
            return
        failed = failed_positions(decode_batch(count, body))
        sink.write(_COUNT.pack(len(failed)) + b"".join(_COUNT.pack(p) for p in failed))
        sink.flush()


class WorkerGone(Exception):
    """A worker process died or closed its pipes."""


#: Bytes of requests a worker's pipe holds. Linux's default of 64 KiB is one chunk of a
#: hundred entries: the caller would block writing the next chunk until the worker had
#: finished the one before, and stop parsing meanwhile.
PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Let the caller queue several chunks without blocking (Linux; elsewhere a no-op)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None:
        return
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        limit = PIPE_BYTES
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, setsize, min(PIPE_BYTES, limit))


class _Worker:
    """One child process; requests are answered strictly in the order they were sent."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        code = f"import sys; sys.path.insert(0, {root!r}); import ledger.sigpool as p; p.serve()"
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdin is not None
        _widen_pipe(self.process.stdin.fileno())
        self.lock = threading.Lock()
        self.sent = 0
        self.received = 0
        self.answers: dict[int, list[int]] = {}
        self.outstanding = 0

    def send(self, batch: Sequence[Check]) -> int:
        """Queue a batch; return its ticket for `result`."""
        data = encode_batch(batch)
        with self.lock:
            stdin = self.process.stdin
            assert stdin is not None
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise WorkerGone("signature worker is gone") from None
            ticket = self.sent
            self.sent += 1
            self.outstanding += 1
            return ticket

    def result(self, ticket: int) -> list[int]:
        with self.lock:
            stdout = self.process.stdout
            assert stdout is not None
            while ticket not in self.answers:
                try:  # a pipe closed under us (the pool was replaced) is a worker gone too
                    header = _read_exact(stdout, _COUNT.size)
                    if header is None:
                        raise WorkerGone("signature worker is gone")
                    (count,) = _COUNT.unpack(header)
                    body = _read_exact(stdout, _COUNT.size * count) if count else b""
                except (OSError, ValueError):
                    raise WorkerGone("signature worker is gone") from None
                if body is None:
                    raise WorkerGone("signature worker is gone")
                self.answers[self.received] = [
                    _COUNT.unpack_from(body, i * _COUNT.size)[0] for i in range(count)
                ]
                self.received += 1
            self.outstanding -= 1
            return self.answers.pop(ticket)

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class SignaturePool:
    """One worker per core; a batch goes to the worker with the least outstanding."""

    def __init__(self, workers: int) -> None:
        self.workers: list[_Worker] = []
        try:
            for _ in range(workers):
                self.workers.append(_Worker())
        except OSError:
            self.close()  # none half-started is left behind
            raise
        self.owner_pid = os.getpid()
        self.broken = False

    def send(self, batch: Sequence[Check]) -> tuple[_Worker, int]:
        worker = min(self.workers, key=lambda w: w.outstanding)
        return worker, worker.send(batch)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_lock = threading.Lock()
_pool: SignaturePool | None = None


#: Set (to "off") in each process of `serve --workers N`: the N processes already spread
#: the signature checks over the cores, and a pool per process would start N x cores.
POOL_SETTING = "INQUIRY_LEDGER_SIGNATURE_POOL"


def shared_pool() -> SignaturePool | None:
    """The process-wide pool (one worker per core), or None on a single core or when
    `POOL_SETTING` is off (signatures are then verified in this process)."""
    global _pool
    if cores() < 2 or os.environ.get(POOL_SETTING, "on").lower() == "off":
        return None
    with _lock:
        if _pool is None or _pool.broken or _pool.owner_pid != os.getpid():
            if _pool is not None and _pool.owner_pid == os.getpid():
                _pool.close()
            try:
                _pool = SignaturePool(cores())
            except OSError:  # no interpreter to start (embedded): verify in-process
                _pool = None
        return _pool


@atexit.register
def close_shared_pool() -> None:
    """Stop the workers (they also stop by themselves when this process exits)."""
    global _pool
    with _lock:
        if _pool is not None and _pool.owner_pid == os.getpid():
            _pool.close()
        _pool = None


class SignatureBatch:
    """The signatures of one unit of work (an append, a verification), checked in chunks.

    `add` queues a check and hands a full chunk to a worker at once, so verification runs
    while the caller goes on; `failures` waits for every chunk and returns the tags of
    the checks whose signature does not verify, in order (a check's tag is its position
    in order of `add` unless the caller gives one, e.g. a leaf index). Without a pool (one core, or
    `pool=None`) everything is verified in this process, with the same result. At most
    `in_flight` chunks are outstanding before `add` waits for the oldest, which bounds
    memory however long the unit of work is.
    """

    def __init__(
        self,
        pool: SignaturePool | None,
        *,
        chunk: int,
        in_flight: int = 8,
        expected: int | None = None,
    ) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.pool = pool
        self.chunk = chunk
        self.in_flight = in_flight
        self.expected = expected  # when known, the last chunk waits to be shared
        self.count = 0
        self._queued: list[Check] = []
        self._tags: list[int] = []
        self._pending: list[tuple[list[int], list[Check], _Worker, int]] = []
        self._failed: list[int] = []

    def add(
        self, public_key: bytes, signature: bytes, message: bytes, tag: int | None = None
    ) -> None:
        self._queued.append((public_key, signature, message))
        self._tags.append(self.count if tag is None else tag)
        self.count += 1
        if len(self._queued) >= self.chunk and (
            self.expected is None or self.count < self.expected
        ):
            self._submit()

    def _submit(self) -> None:
        batch, tags = self._queued, self._tags
        self._queued, self._tags = [], []
        if not batch:
            return
        if self.pool is not None:
            try:
                worker, ticket = self.pool.send(batch)
            except WorkerGone:
                self._give_up_pool()
            else:
                self._pending.append((tags, batch, worker, ticket))
                while len(self._pending) > self.in_flight:
                    self._collect(*self._pending.pop(0))
                return
        self._failed.extend(tags[p] for p in failed_positions(batch))

    def _give_up_pool(self) -> None:
        if self.pool is not None:
            self.pool.broken = True  # the next unit of work starts a fresh pool
            self.pool = None

    def _collect(self, tags: list[int], batch: list[Check], worker: _Worker, ticket: int) -> None:
        try:
            failed = worker.result(ticket)
        except WorkerGone:
            self._give_up_pool()
            failed = failed_positions(batch)
        self._failed.extend(tags[p] for p in failed)

    def failures(self) -> list[int]:
        """Wait for every check; the tags of those whose signature does not verify, sorted.

        The caller would only wait here, so the last partial chunk is shared: a part to
        each worker and one part verified in this process, which shortens the tail."""
        if self.pool is not None and len(self._queued) > 1:
            batch, tags = self._queued, self._tags
            share = -(-len(batch) // (len(self.pool.workers) + 1))
            self._queued, self._tags = [], []
            for start in range(share, len(batch), share):
                self._queued, self._tags = batch[start : start + share], tags[start : start + share]
                self._submit()
            self._failed.extend(tags[p] for p in failed_positions(batch[:share]))
        self._submit()
        while self._pending:
            self._collect(*self._pending.pop(0))
        return sorted(self._failed)

    def abandon(self) -> None:
        """Drop what is queued and claim what is in flight (so no answer is left behind
        in a worker's queue), when the unit of work ends early."""
        self._queued, self._tags = [], []
        while self._pending:
            _, _, worker, ticket = self._pending.pop(0)
            try:
                worker.result(ticket)
            except WorkerGone:
                self._give_up_pool()
