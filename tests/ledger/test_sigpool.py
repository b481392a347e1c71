"""Signature checks on worker processes, and the append path that relies on them.

The pool may change how fast a verdict arrives, never what it is: every test compares
the pool's answers with verification in this process, including after a worker dies.
(The append path that uses it is tested in tests/ledger/test_append_path.py.)
"""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest

from ledger import sigpool
from ledger.keys import KeyPair
from ledger.sigpool import SignatureBatch, SignaturePool, decode_batch, encode_batch, serve


def _checks(count: int, bad: set[int]) -> list[tuple[bytes, bytes, bytes]]:
    key = KeyPair.generate()
    out = []
    for i in range(count):
        message = f"message {i} \u00e9".encode()
        signature = key.sign(message)
        if i in bad:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        out.append((key.public_key, signature, message))
    return out


@pytest.fixture
def pool() -> SignaturePool:
    started = SignaturePool(2)
    yield started
    started.close()


def test_a_batch_round_trips_through_the_wire_format() -> None:
    checks = _checks(5, set())
    data = encode_batch(checks)
    count, length = sigpool._HEADER.unpack_from(data)
    assert count == 5 and length == len(data) - sigpool._HEADER.size
    assert decode_batch(count, data[sigpool._HEADER.size :]) == checks
    with pytest.raises(ValueError, match="malformed"):
        decode_batch(count, data[sigpool._HEADER.size :] + b"x")


def test_the_worker_loop_answers_each_batch_in_order_and_stops_at_end_of_input() -> None:
    first, second = _checks(4, {1, 3}), _checks(3, {0})
    out = io.BytesIO()
    serve(io.BytesIO(encode_batch(first) + encode_batch(second)), out)
    answers = out.getvalue()
    assert answers == b"".join(sigpool._COUNT.pack(n) for n in (2, 1, 3, 1, 0)), (
        "count, positions... for each batch in turn"
    )


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_the_pool_and_this_process_find_the_same_bad_signatures(
    pool: SignaturePool, chunk: int
) -> None:
    bad = {0, 5, 6, 63, 64, 149}
    checks = _checks(150, bad)
    on_pool = SignatureBatch(pool, chunk=chunk, in_flight=2)
    inline = SignatureBatch(None, chunk=chunk)
    for check in checks:
        on_pool.add(*check)
        inline.add(*check)
    assert on_pool.failures() == inline.failures() == sorted(bad)
    assert on_pool.count == 150
    # every full chunk went to a worker; the last partial one is shared with this process
    assert pool.workers[0].sent + pool.workers[1].sent >= 150 // chunk
    assert all(w.sent > 0 for w in pool.workers)


def test_tags_name_the_failures(pool: SignaturePool) -> None:
    batch = SignatureBatch(pool, chunk=3)
    for tag, check in zip((10, 20, 30, 40, 50), _checks(5, {1, 4}), strict=True):
        batch.add(*check, tag)
    assert batch.failures() == [20, 50]


def test_a_dead_worker_changes_no_verdict_and_the_next_pool_is_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sigpool, "_pool", None)
    pool = sigpool.shared_pool()
    assert pool is not None
    try:
        for worker in pool.workers:
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait()
        batch = SignatureBatch(pool, chunk=10)
        for check in _checks(40, {3, 33}):
            batch.add(*check)
        assert batch.failures() == [3, 33]
        assert pool.broken
        fresh = sigpool.shared_pool()
        assert fresh is not None and fresh is not pool
        again = SignatureBatch(fresh, chunk=10)
        for check in _checks(20, {19}):
            again.add(*check)
        assert again.failures() == [19]
    finally:
        sigpool.close_shared_pool()


def test_abandoning_a_batch_leaves_no_answer_behind(pool: SignaturePool) -> None:
    batch = SignatureBatch(pool, chunk=5)
    for check in _checks(23, {2}):
        batch.add(*check)
    batch.abandon()
    assert all(w.outstanding == 0 and not w.answers for w in pool.workers)
    follow = SignatureBatch(pool, chunk=5)
    for check in _checks(10, {9}):
        follow.add(*check)
    assert follow.failures() == [9]


def test_workers_stop_when_their_input_closes(pool: SignaturePool) -> None:
    processes = [w.process for w in pool.workers]
    pool.close()
    deadline = time.monotonic() + 10
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(p.returncode == 0 for p in processes)


def test_the_last_chunk_of_a_known_total_is_shared_with_the_caller(pool: SignaturePool) -> None:
    batch = SignatureBatch(pool, chunk=10, expected=30)
    for check in _checks(30, {0, 25, 29}):
        batch.add(*check)
    assert sum(w.sent for w in pool.workers) == 2, "the third chunk waits for failures()"
    assert batch.failures() == [0, 25, 29]
    # 10 left: a part for each of the two workers, the rest verified by the caller
    assert sum(w.sent for w in pool.workers) == 4


def test_a_worker_pipe_holds_several_chunks_so_sending_does_not_wait(pool: SignaturePool) -> None:
    import fcntl

    getsize = getattr(fcntl, "F_GETPIPE_SZ", None)
    if getsize is None:
        pytest.skip("pipe sizes are a Linux feature; elsewhere the default applies")
    stdin = pool.workers[0].process.stdin
    assert stdin is not None
    assert fcntl.fcntl(stdin.fileno(), getsize) >= min(
        sigpool.PIPE_BYTES, int(Path("/proc/sys/fs/pipe-max-size").read_text())
    )


def test_a_pool_closed_under_a_batch_in_flight_changes_no_verdict(pool: SignaturePool) -> None:
    batch = SignatureBatch(pool, chunk=5, in_flight=100)
    for check in _checks(30, {4, 17}):
        batch.add(*check)
    pool.close()  # e.g. another thread replaced a broken pool
    assert batch.failures() == [4, 17]
    assert pool.broken


def test_without_an_interpreter_to_start_signatures_are_checked_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sigpool, "_pool", None)
    monkeypatch.setattr(sigpool.sys, "executable", "/nonexistent/python")
    assert sigpool.shared_pool() is None
    batch = SignatureBatch(sigpool.shared_pool(), chunk=4)
    for check in _checks(9, {8}):
        batch.add(*check)
    assert batch.failures() == [8]
