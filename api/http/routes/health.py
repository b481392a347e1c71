"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import ServicesDep
from api.http.routes.schemas import HealthOut

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=HealthOut)
def healthz(svc: ServicesDep) -> HealthOut:
    """Liveness and readiness: the event store answers."""
    return HealthOut(status="ok", tree_size=svc.ledger.tree_size())
