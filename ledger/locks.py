"""The locks that order writers: one appender at a time, one run of a job at a time.

Appends are ordered by a lock held across the whole write (check, record, integrate),
so every writer sees the tree the previous one left: an flock beside a SQLite file, or
a PostgreSQL session advisory lock shared by every process and machine using the
database. A job that must not overlap itself (`remind`) takes a lock of its own the same
way. Each wait is bounded (ledger/config.py `DbTimeouts`): a frozen database or a stuck
holder is an error the caller answers (503), never a hang.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psycopg
from eventsourcing import persistence as es_persistence

from ledger.config import REPLY_GRACE, DbTimeouts
from ledger.pg_session import BoundedConnection, connect

log = logging.getLogger("inquiry_ledger.ledger")


class FileAppendLock:
    """One appender at a time across threads and processes sharing a SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class AppendLockTimeout(psycopg.errors.LockNotAvailable):
    """Another append of this process held the append lock past the lock bound."""


#: A failure of the database itself (not of the request): after one, the lock's session
#: is ended rather than asked to unlock (see `PostgresAppendLock`).
_DATABASE_FAILURES = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
)


class PostgresAppendLock:
    """One appender at a time across every process using the database.

    A session-level advisory lock on a dedicated connection: if the process dies the
    session ends and PostgreSQL releases the lock, so a crash never wedges the ledger.

    No wait is unbounded (issue 18). The lock is held for a whole write by design, so
    waiting for it is bounded by the lock bound (INQUIRY_LEDGER_DB_LOCK_TIMEOUT, 10 s),
    which must stay well above the longest normal batch: for this process's other
    appends (the thread lock) and for other processes' (the session's lock_timeout).
    A frozen server answers nothing, so the client also gives up on an answer after the
    lock bound plus REPLY_GRACE (ledger/pg_session.py). Each is a psycopg
    OperationalError, a 503. After a database failure during the write the session is
    ended instead of unlocked: ending it releases the lock as surely (at once on a live
    server; when a frozen one resumes), where an unlock would wait on a frozen server."""

    LOCK_KEY = 0x1A9D_1E06  # arbitrary, constant: "inquiry ledger appends"

    def __init__(self, conninfo: str, bounds: DbTimeouts | None = None) -> None:
        # Without `bounds`, those of the environment, as LedgerConfig.from_env reads them.
        self._bounds = DbTimeouts.from_env(os.environ) if bounds is None else bounds
        self._conninfo = conninfo
        self._conn = self._connect()
        self._thread_lock = threading.Lock()

    def _connect(self) -> BoundedConnection:
        # A bounded connect: while the database is unreachable an append fails in seconds
        # (503) instead of waiting for the operating system's TCP timeout. The session's
        # only wait is for the lock: lock_timeout, no statement_timeout.
        return connect(
            self._conninfo, self._bounds, reply_timeout=self._bounds.lock_reply, statement=False
        )

    @contextmanager
    def hold(self) -> Iterator[None]:
        wait = self._bounds.lock.total_seconds()
        if not self._thread_lock.acquire(timeout=wait):
            raise AppendLockTimeout(f"another append held the append lock for over {wait:g} s")
        try:
            self._lock()
            failed = False
            try:
                yield
            except _DATABASE_FAILURES:
                failed = True
                raise
            finally:
                self._release(end_session=failed)
        finally:
            self._thread_lock.release()

    def _lock(self) -> None:
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        try:
            self._conn.execute("SELECT pg_advisory_lock(%s)", (self.LOCK_KEY,))
        except psycopg.OperationalError:
            if not self._conn.broken:
                raise  # a lock or reply bound ran out: the database is busy or frozen
            # The session died while idle (the database restarted): nothing was
            # held, so reconnect once rather than fail the first append after an
            # outage (tests/reliability/test_outages.py).
            self._conn = self._connect()
            self._conn.execute("SELECT pg_advisory_lock(%s)", (self.LOCK_KEY,))

    def _release(self, *, end_session: bool) -> None:
        """Unlock (an answer within REPLY_GRACE: nothing to wait for); or end the session,
        which releases the lock as surely, when asked to or when the unlock fails. A
        failed unlock is not the write's failure: what was written is committed."""
        conn = self._conn
        if conn.closed or conn.broken:
            return  # the session is gone, and its lock with it
        if not end_session:
            conn.reply_timeout = REPLY_GRACE.total_seconds()
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.LOCK_KEY,))
                return
            except psycopg.Error as error:
                log.warning("append lock: unlock failed (%s); ending the session", error)
            finally:
                conn.reply_timeout = self._bounds.lock_reply
        conn.close()

    def close(self) -> None:
        self._conn.close()


class RunInProgress(Exception):
    """Another process holds a run lock (`FileRunLock`, `PostgresRunLock`)."""


class FileRunLock:
    """One run at a time of a job (e.g. `remind`) across processes sharing a SQLite file:
    an exclusive flock on a file in the home folder, released when the run ends or its
    process dies. `hold(wait)` tries for `wait` seconds, then raises RunInProgress."""

    POLL_SECONDS = 0.05

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def hold(self, wait: float) -> Iterator[None]:
        with open(self.path, "a+b") as handle:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RunInProgress(str(self.path)) from None
                    time.sleep(self.POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class PostgresRunLock:
    """One run at a time of a job across every process using the database: an advisory
    lock (its own key, never the append lock's) on a session opened for the run, so a run
    that dies releases it. `hold(wait)`: the server's lock_timeout is `wait`, then
    RunInProgress; a frozen server is given up on REPLY_GRACE later (a 503-like
    psycopg OperationalError)."""

    def __init__(self, conninfo: str, key: int, bounds: DbTimeouts) -> None:
        self._conninfo = conninfo
        self._key = key
        self._bounds = bounds

    @contextmanager
    def hold(self, wait: float) -> Iterator[None]:
        bounds = replace(self._bounds, lock=timedelta(seconds=max(wait, 0.001)))
        with connect(
            self._conninfo, bounds, reply_timeout=bounds.lock_reply, statement=False
        ) as conn:
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
            except psycopg.errors.LockNotAvailable:
                raise RunInProgress(f"advisory lock {self._key:#x}") from None
            yield  # the session's end (leaving the block) releases the lock
