"""The chair's verification page: the whole ledger checked against the log's key, for
auditors (the chair, scrutiny, the implementation group and administrators)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.http.deps import ConfigDep, ServicesDep
from api.http.pages.common import PageError, Viewer, form_csrf, render, viewer_of
from api.http.pages.views import verification_checks
from ledger.auditor.note import VerifierKey
from ledger.verify import verify_ledger

router = APIRouter(include_in_schema=False)


def auditor_viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if not viewer.auditor:
        raise PageError(
            403,
            "The verification page is for the chair, scrutiny, the implementation group "
            "and administrators.",
        )
    return viewer


@router.get("/verify")
def verify_page(request: Request) -> Response:
    viewer = auditor_viewer(request)
    return render(request, "verify.html", viewer, report=None, checks=None)


@router.post("/verify")
def verify_run(
    request: Request, svc: ServicesDep, config: ConfigDep, csrf: str = Form("")
) -> Response:
    viewer = auditor_viewer(request)
    form_csrf(request, viewer, csrf)
    try:
        vkey = VerifierKey.parse(config.log_vkey_path.read_text())
    except OSError:
        raise PageError(503, "The server has no log verifier key to check against.") from None
    # One process: forking worker processes from a threaded server is not safe.
    report = verify_ledger(svc.ledger, vkey, workers=1)
    return render(
        request,
        "verify.html",
        viewer,
        report=report,
        checks=verification_checks(report),
        ran_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        vkey=vkey.encode(),
    )
