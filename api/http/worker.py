"""One process of `serve --workers N`: its app and its connection protocol.

Several processes answer on one port (uvicorn starts them and shares the listening
socket), so the CPU work of a request (HTTP, JSON, signature checks, rules) spreads over
the cores instead of queueing behind one interpreter's lock. uvicorn starts each worker
afresh and names what it runs by import path, so nothing can be handed over from the
parent as an object: each worker reads its settings from the environment the parent
sets (`LedgerConfig.from_env`, `ServerLimits.from_env`) when it imports this module.

Each worker opens its own ledger. They are one writer to the database as any several
processes are: the append lock (PostgreSQL advisory lock, or an flock beside the SQLite
file) orders their groups of entries, each process integrating what the others wrote
before it writes (ledger/service.py). Each worker's checkpointer reuses a checkpoint
already signed for the current size, so there is one checkpoint per size, whoever signs
it. Signature checks run in the worker itself (no signature process pool per worker:
ledger/sigpool.py `POOL_SETTING`), since the workers are already one per core.
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from api.http.app import create_app
from api.http.connections import GuardedHttp, ServerLimits, protocol_for, raise_open_files_limit
from ledger.config import LedgerConfig


def log_to_stderr() -> logging.Logger:
    """One JSON line per request from our own access log (never tokens or bodies), in
    the parent and in every worker; uvicorn's access log would repeat each request."""
    app_logger = logging.getLogger("inquiry_ledger")
    if not app_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    app_logger.propagate = False
    return app_logger


def app() -> FastAPI:
    """The worker's app (``uvicorn.run("api.http.worker:app", factory=True)``)."""
    log_to_stderr()
    return create_app(LedgerConfig.from_env(dict(os.environ)), limits=ServerLimits.from_env())


_bound = protocol_for(ServerLimits.from_env(), raise_open_files_limit())


class WorkerHttp(GuardedHttp):
    """The worker's connection protocol (``http="api.http.worker:WorkerHttp"``), bound
    to the limits and descriptor cap of this process when it imported this module."""

    limits = _bound.limits
    cap = _bound.cap
