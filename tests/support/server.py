"""Run `inquiry-ledger serve` as a real process on a free loopback port, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], *, wait: float = 30.0, workers: int = 1) -> Iterator[str]:
    """Yield the server's URL once /healthz answers; stop it afterwards and insist that
    it never printed a traceback (no unhandled error on the server's side).

    The server's stderr (its JSON access log) goes to a file, not a pipe: a pipe nobody
    reads fills at 64 KiB and then blocks the server's event loop on its next log line,
    which under load looks exactly like a server that has stopped answering.

    One worker unless asked (`serve --workers N`): a test that kills the server kills
    the one process that answers."""
    port = free_port()
    environment = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(port),
            ],
            env=environment,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            log_file.seek(0)
            stderr = log_file.read()
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-3000:]
