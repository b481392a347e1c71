"""`inquiry-ledger serve` as a real process that a test can start, kill -9 and restart on
the same loopback port (clients keep one URL across crashes, as they would in service).

Unlike tests/server.py's context manager, the server outlives a `with` block: a crash
test starts and kills it a hundred times, each time a new process. With `fork=True` the
processes are forked from a pre-imported interpreter (zygote.py) so that a restart
costs what a real restart must (open the ledger, bind the port) and not a second of
imports. Every run's stderr (the JSON access log) goes to its own file, never a pipe (a
pipe nobody reads fills and stalls the server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import REPO, free_port


class ServeProcess:
    def __init__(
        self, env: dict[str, str], log_dir: Path, port: int | None = None, *, fork: bool = False
    ) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        self.log_dir = log_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.fork = fork
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None  # the server, or the zygote
        self.runs = 0
        log_dir.mkdir(parents=True, exist_ok=True)

    def _launch(self, log_path: Path) -> int:
        if not self.fork:
            with open(log_path, "wb") as log_file:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "api.cli",
                        "serve",
                        "--workers",
                        "1",
                        "--port",
                        str(self.port),
                    ],
                    env=self.env,
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                )
            return self._process.pid
        if self._process is None:
            with open(self.log_dir / "zygote.log", "wb") as log_file:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.reliability.zygote", str(self.port)],
                    env=self.env,
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(f"{log_path}\n".encode())
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote died; see {self.log_dir / 'zygote.log'}")
        return int(line)

    def _alive(self) -> bool:
        if self.pid is None:
            return False
        if not self.fork:
            return self._process is not None and self._process.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def start(self, *, wait: float = 60.0) -> float:
        """Start a new server process; return once /healthz answers 200 (seconds taken)."""
        assert self.pid is None, "already running"
        self.runs += 1
        started = time.monotonic()
        self.pid = self._launch(self.log_dir / f"serve-{self.runs:04d}.log")
        with httpx.Client(timeout=2) as http:
            while True:
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                if not self._alive() or time.monotonic() - started > wait:
                    self.kill()
                    raise RuntimeError(f"the server did not start; see {self.log_dir}")
                time.sleep(0.01)

    def kill(self) -> None:
        """kill -9: no shutdown handler, no flush, no goodbye to its clients."""
        if self.pid is None:
            return
        if self._alive():
            os.kill(self.pid, signal.SIGKILL)
        if not self.fork and self._process is not None:
            self._process.wait(timeout=30)
            self._process = None
        deadline = time.monotonic() + 30
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.pid = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM) at the end of a test; the zygote goes too."""
        if self.pid is not None and self._alive():
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while self._alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.kill()
        self.pid = None
        if self._process is not None:
            if self.fork and self._process.stdin is not None:
                self._process.stdin.close()  # EOF: the zygote exits
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def tracebacks(self) -> list[str]:
        """Logs that show an unhandled error (a kill -9 itself prints nothing)."""
        return [
            path.name
            for path in sorted(self.log_dir.glob("*.log"))
            if b"Traceback" in path.read_bytes() or b'"status": 500' in path.read_bytes()
        ]
