"""A store that is down is a 503 with a reason, answered quickly, never a hang or a 500.

When PostgreSQL restarts or the S3 server stops, the request that meets it fails with a
connection error from psycopg (through eventsourcing, which re-raises its own
``OperationalError``/``InterfaceError``) or from botocore. Those are not bugs of the
request and not of the server: they are an outage, and the client should retry. So they
become ``503 {"error": "unavailable", "detail": ...}`` with ``Retry-After``; the detail
names which store (never its address, user or password: driver messages can carry
them), and the log names the exception type only.

A database that hangs instead of going away ends the same way (issue 18): every wait for
PostgreSQL is bounded (ledger/pg_session.py, ledger/config.py's DbTimeouts), and each
bound that runs out raises a subclass of psycopg's OperationalError: QueryCanceled (the
server's statement_timeout), LockNotAvailable (its lock_timeout, or the append lock's
wait), PoolTimeout (no pooled connection in time), ConnectionTimeout (a connection that
never completes) and DatabaseNotAnswering (a frozen server: no answer at all).

Nothing is half-written by such a failure: an append is one database transaction, and
an evidence event is only appended once its blob answers (`Ledger._check_blob`), so a
store that is down refuses the event instead of recording it without its blob. When
the store returns, the connection pools reconnect by themselves (psycopg's pool
replaces broken connections; the append lock reconnects its session; boto3 opens new
connections per request), so the service recovers without a restart.
"""

from __future__ import annotations

import logging

import psycopg
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.http.errors import error, insufficient_storage
from evidence_store.base import storage_full
from evidence_store.s3 import StoreUnavailable

log = logging.getLogger("inquiry_ledger.api")

#: Seconds a client should wait before retrying; outages seen in tests last seconds.
RETRY_AFTER_SECONDS = 2

#: psycopg's OperationalError covers every timeout named above (their base class).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
OBJECT_STORE_ERRORS: tuple[type[Exception], ...] = (
    BotoConnectionError,
    HTTPClientError,
    StoreUnavailable,
)


def unavailable(detail: str) -> JSONResponse:
    response = error(503, "unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install(app: FastAPI) -> None:
    """Map "store unavailable" errors to 503 (more specific than the catch-all 500)."""

    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        if storage_full(exc):  # not a passing outage: retrying in seconds will not help
            log.error("event store full: %s", type(exc).__name__)
            return insufficient_storage()
        log.warning("event store unavailable: %s", type(exc).__name__)
        return unavailable("the event store (database) is unavailable; retry shortly")

    async def object_store_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("evidence store unavailable: %s", type(exc).__name__)
        return unavailable("the evidence store is unavailable; retry shortly")

    async def object_store_refused(_: Request, exc: Exception) -> JSONResponse:
        # A 5xx from the object store (503 SlowDown, 500 InternalError) is an outage on
        # its side; a 4xx is a misconfiguration here (credentials, bucket) and stays 500.
        assert isinstance(exc, ClientError)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if status >= 500:
            return await object_store_down(_, exc)
        log.error("evidence store refused a request: %s", exc.response.get("Error", {}).get("Code"))
        return error(500, "internal_error", "the server could not complete the request")

    for cls in DATABASE_ERRORS:
        app.add_exception_handler(cls, database_down)
    for cls in OBJECT_STORE_ERRORS:
        app.add_exception_handler(cls, object_store_down)
    app.add_exception_handler(ClientError, object_store_refused)
