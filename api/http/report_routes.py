"""HTTP routes for the progress report and the status spreadsheet.

`GET /v1/report` is for those who hold the agencies to account (chair, scrutiny, the
implementation group, administrators); it is built from the latest signed checkpoint
and says which, in the document and in the X-Checkpoint-Size header.
`GET /v1/export/status` is readable by every role, scoped like the action reads: an
officer or agency lead gets only their own agency's actions and evidence.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from api.application.reports import progress_report
from api.application.spreadsheet_export import render_export
from api.http.app import AUDITORS, ERRORS, CallerDep, ServicesDep, _moment
from api.http.errors import Conflict, Forbidden
from domain.roles import AGENCY_ROLES
from ledger.config import LedgerConfig
from ledger.entry import EntryFormatError
from projections.report import ReportError
from projections.report_render import render
from projections.report_sheets import status_export

_DOCUMENT: dict[str, Any] = {"content": {"text/html": {}, "application/pdf": {}}}
_SHEET: dict[str, Any] = {
    "content": {
        "text/csv": {},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
    }
}


def install(app: FastAPI, config: LedgerConfig) -> None:
    router = APIRouter(tags=["reports"])

    @router.get(
        "/v1/report",
        response_class=Response,
        responses={
            200: {"description": "the report", **_DOCUMENT},
            401: ERRORS[401],
            403: ERRORS[403],
            409: ERRORS[409],
            422: ERRORS[422],
        },
    )
    def report(
        svc: ServicesDep,
        who: CallerDep,
        as_of: Annotated[str, Query(max_length=40)],
        since: Annotated[str | None, Query(max_length=40)] = None,
        format: Annotated[Literal["html", "pdf"], Query()] = "html",
    ) -> Response:
        """The council progress report as of a date (HTML or PDF), built from exactly the
        log prefix the latest signed checkpoint covers. `since` is the previous report's
        date (default: six months before `as_of`)."""
        if who.role not in AUDITORS:
            raise Forbidden(f"{who.describe()} may not read the progress report")
        moment = _moment(as_of)
        start = _moment(since) if since else None
        if start is not None and start >= moment:
            raise EntryFormatError("'since' must be before 'as_of'")
        if svc.ledger.latest_checkpoint() is None:
            raise Conflict("the log has no signed checkpoint yet", "no_checkpoint")
        try:
            built = progress_report(svc.ledger, config, as_of=moment, since=start)
        except ReportError as error:
            raise EntryFormatError(str(error)) from None
        content, media_type = render(built, format)
        return Response(
            content,
            media_type=media_type,
            headers={
                "X-Checkpoint-Size": str(built.checkpoint.size),
                "X-Log-Size": str(built.checkpoint.log_size),
                "Content-Disposition": f'inline; filename="progress-report.{format}"',
            },
        )

    @router.get(
        "/v1/export/status",
        response_class=Response,
        responses={
            200: {"description": "one row per action", **_SHEET},
            401: ERRORS[401],
            422: ERRORS[422],
        },
    )
    def export_status(
        svc: ServicesDep,
        who: CallerDep,
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    ) -> Response:
        """The status of every action you may read, as of a date (default: now), as CSV
        (evidence hashes in a column) or XLSX (a second sheet lists the evidence)."""
        moment = _moment(as_of) if as_of else None
        agency = who.agency if who.role in AGENCY_ROLES else None
        export = status_export(svc.ledger.entries(), as_of=moment, agency=agency)
        content, media_type = render_export(export, format)
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="status.{format}"'},
        )

    app.include_router(router)
