"""Fork `inquiry-ledger serve` processes from an interpreter that has already imported it.

A crash test restarts the server a hundred times, and most of a cold start is importing
FastAPI, pydantic, psycopg and boto3 (over a second on a busy 2-core machine). This
process pays that once; then for each line on stdin (a log file path) it forks a child
that runs the command line's `serve` exactly as the console script does, and prints
the child's pid. Each child is a new process with nothing but the imported modules: it
opens the ledger, its connection pools and the port itself, and is killed with SIGKILL
by the test. No threads exist here before a fork (imports start none).

Children are reaped by the kernel (SIGCHLD ignored), so a killed one vanishes at once."""

from __future__ import annotations

import os
import signal
import sys
import traceback

import uvicorn  # noqa: F401  (the slow imports, done once)

import api.http.app  # noqa: F401
from api.cli.main import main as cli_main


def _serve(port: str, log_path: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    code = 1
    try:
        code = cli_main(["serve", "--workers", "1", "--port", port])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _warm_up() -> None:
    """Build the app once, without starting it (no ledger is opened: that happens in the
    lifespan), so that modules it imports lazily (reports, web pages) are loaded too."""
    from api.http.app import create_app
    from evidence_store.s3 import make_client
    from ledger.config import LedgerConfig

    create_app(LedgerConfig.from_env())
    # boto3's default session loads the S3 service model on first use (most of a client's
    # creation); a client with explicit credentials opens no connection and asks no
    # credential provider, so nothing but that cache is inherited.
    make_client(None, "us-east-1", "warm-up", "warm-up")


def main() -> int:
    port = sys.argv[1]
    _warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        log_path = line.strip()
        if not log_path:
            continue
        pid = os.fork()
        if pid == 0:
            _serve(port, log_path)
        print(pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
