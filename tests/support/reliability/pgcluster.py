"""A private PostgreSQL 15 cluster on a free loopback port, for tests that stop and start
the database server itself (the machine's shared server on 5432 is never touched).

PostgreSQL refuses to run as root, so when the tests run as root (CI does) initdb and
pg_ctl run as the `postgres` user through `runuser`, in a folder that user owns under
/tmp (pytest's own temp folders are private to root). Settings favour speed: no fsync
(a stopped or crashed server loses nothing the operating system already has; only a
machine crash would), trust authentication, loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.server import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class PgCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="inquiry-ledger-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @staticmethod
    def available() -> bool:
        return (BIN / "initdb").exists() and (
            os.geteuid() != 0 or shutil.which("runuser") is not None
        )

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*(["runuser", "-u", "postgres", "--"] if self._as_postgres else []), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "full_page_writes = off\nmax_connections = 200\n"
            )

    def start(self) -> float:
        """Start and wait until it accepts connections; seconds it took."""
        started = time.monotonic()
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return time.monotonic() - started

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as clients can tell: every session is cut, and
        the next start runs crash recovery from the WAL."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
