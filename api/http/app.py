"""The HTTP service: one shared ledger for every agency.

Reads need a bearer token. Writes need more: each is an entry built and signed on the
client's side with the caller's own private key; the server checks that the token's
user is the signer, and the ledger checks the signature, the key and the rule. The server
never sees a private key and cannot forge an entry. The transparency-log endpoints
(checkpoints, proofs, leaf hashes) are public: they reveal hashes and sizes, never content.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.application.checkpoints import RegularCheckpoints
from api.application.evidence import ConfiguredEvidence
from api.application.idempotency import CommandLog
from api.application.tokens import TokenStore
from api.application.witness_push import WitnessPush
from api.http import docs, errors, unavailable
from api.http.connections import ServerLimits
from api.http.deps import ERRORS, Services
from api.http.middleware import AccessLog, BodyLimit, HeaderAuth
from api.http.pages.routes import install_web
from api.http.public import routes as public
from api.http.routes import (
    actions,
    challenges,
    directory,
    entries,
    evidence,
    health,
    log,
    proofs,
    report,
    sessions,
    status,
    tiles,
)
from api.http.security import SecurityHeaders
from api.http.witness_client import HttpxWitnessPost
from ledger.config import LedgerConfig
from ledger.service import Ledger
from projections.projector import projector_for

JSON_LIMIT = 1024 * 1024
witness_log = logging.getLogger("inquiry_ledger.witnesses")

#: The JSON API's routers, in the order their operations appear in /openapi.json. Writing
#: first: a request is matched against each router in turn, ~15 us per router passed
#: (FastAPI's included routers), and appends are the hot path (issue 18).
ROUTERS: tuple[APIRouter, ...] = (
    entries.router,
    report.router,
    health.router,
    log.router,
    proofs.router,
    tiles.router,
    directory.router,
    status.router,
    actions.router,
    challenges.router,
    sessions.router,
    evidence.router,
    public.api_router,
)


def create_app(
    config: LedgerConfig,
    ledger: Ledger | None = None,
    *,
    json_limit: int = JSON_LIMIT,
    limits: ServerLimits | None = None,
) -> FastAPI:
    evidence_store = (
        ledger.evidence
        if ledger is not None and isinstance(ledger.evidence, ConfiguredEvidence)
        else ConfiguredEvidence(config.home)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        the_ledger = ledger or Ledger(config, evidence=evidence_store)
        evidence_store.keep_keys_in(the_ledger.tables)  # S3's data keys: every machine's
        app.state.services = Services(
            the_ledger,
            TokenStore(the_ledger.tables),
            CommandLog(the_ledger.tables),
            evidence_store,
        )
        # Each group of appends gets its receipts as it is written (issue 18).
        app.state.services.receipts.attach(config)
        # Bring the as-of projection up to date now, not in the first status request.
        catching_up, stop_catching_up = projector_for(the_ledger).catch_up_in_background(the_ledger)
        # Sign a checkpoint within the interval of the log growing (0: never).
        # After each, ask the configured witnesses to cosign it (C2SP tlog-witness).
        interval = config.checkpoint_interval.total_seconds()
        post = HttpxWitnessPost() if config.witnesses and interval > 0 else None
        if config.witnesses and post is None:
            witness_log.warning("witnesses are configured, but checkpoints are off: no push")
        push = None if post is None else WitnessPush(the_ledger, config.witnesses, post)
        checkpoints = (
            RegularCheckpoints(the_ledger, config, interval, on_signed=push)
            if interval > 0
            else None
        )
        if checkpoints is not None:
            checkpoints.start()
        try:
            yield
        finally:
            if checkpoints is not None:
                checkpoints.stop()
            if post is not None:
                post.close()
            stop_catching_up.set()
            catching_up.join()
            app.state.services.receipts.detach()
            if ledger is None:
                the_ledger.close()

    app = FastAPI(
        title="inquiry-ledger",
        description=__doc__,
        version="0.1.0",
        lifespan=lifespan,
        responses={code: ERRORS[code] for code in (422, 500, 503, 507)},
        docs_url=None,  # not FastAPI's CDN-loaded pages: api/http/docs.py
        redoc_url=None,
    )
    app.state.config = config
    errors.install(app)
    unavailable.install(app)
    for router in ROUTERS:
        app.include_router(router)
    install_web(app)  # the browser pages (api/http/pages/)
    app.include_router(public.router)  # the public tracker's pages (INQUIRY_LEDGER_PUBLIC)
    docs.install(app)  # Swagger UI at /docs, unless INQUIRY_LEDGER_API_DOCS=off
    bounds = limits or ServerLimits()  # serve's, from INQUIRY_LEDGER_* (api/http/connections.py)
    app.add_middleware(
        BodyLimit,
        limit=json_limit,
        evidence_limit=int(evidence_store.config.max_bytes),
        timeout=bounds.body_timeout,
        min_rate=bounds.body_min_rate,
    )
    # Outside BodyLimit: who may not send a body is refused before anything else.
    app.add_middleware(HeaderAuth)
    # Around every response but the log's: no HTML without its security headers.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app
