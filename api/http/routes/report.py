"""The progress report and the status spreadsheet.

`GET /v1/report` is for those who hold the agencies to account (chair, scrutiny, the
implementation group, administrators); it is built from the newest signed checkpoint
(the server signs a fresh one first when the log has grown past the latest) and says
which, in the document and in the X-Checkpoint-Size header. Rendered reports are kept
(api/application/reports.py): asking again for the same one costs nothing.
`GET /v1/export/status` is readable by every role, scoped like the action reads: an
officer or agency lead gets only their own agency's actions and evidence. It is built
from the as-of projection, so its cost follows the plan, not the log's length.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.application.access import agency_scope, require_auditor
from api.application.checkpoints import held_log_signer
from api.application.reports import rendered_report
from api.application.spreadsheet_export import render_export
from api.http.deps import (
    CallerDep,
    ConfigDep,
    ServicesDep,
    body_doc,
    errors_doc,
    moment,
    optional_moment,
)
from api.http.errors import Conflict
from api.http.security import REPORT_HEADERS
from ledger.auditor.entry import EntryFormatError
from projections.report import ReportError
from projections.report_render import render
from projections.report_sheets import status_export_as_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/report",
    response_class=Response,
    responses={
        200: body_doc("the report", text=("text/html",), binary=("application/pdf",)),
        **errors_doc(401, 403, 409, 422),
    },
)
def report(
    svc: ServicesDep,
    who: CallerDep,
    config: ConfigDep,
    as_of: Annotated[str, Query(max_length=40)],
    since: Annotated[str | None, Query(max_length=40)] = None,
    format: Annotated[Literal["html", "pdf"], Query()] = "html",
) -> Response:
    """The progress report (titled in the ledger's words) as of a date (HTML or PDF),
    built from exactly the log prefix the newest signed checkpoint covers (signed now if
    the log has grown).
    `since` is the previous report's date (default: six months before `as_of`)."""
    require_auditor(who, "read the progress report")
    until = moment(as_of)
    start = optional_moment(since)
    if start is not None and start >= until:
        raise EntryFormatError("'since' must be before 'as_of'")
    signer = held_log_signer(svc.ledger, config)  # the server signs a fresh one if grown
    if signer is None and svc.ledger.latest_checkpoint() is None:
        raise Conflict("the log has no signed checkpoint yet", "no_checkpoint")
    try:
        built = rendered_report(
            svc.ledger, config, as_of=until, since=start, signer=signer, fmt=format, render=render
        )
    except ReportError as error:
        raise EntryFormatError(str(error)) from None
    return Response(
        built.content,
        media_type=built.media_type,
        headers={
            **(REPORT_HEADERS if format == "html" else {"X-Content-Type-Options": "nosniff"}),
            "X-Checkpoint-Size": str(built.checkpoint.size),
            "X-Log-Size": str(built.checkpoint.log_size),
            "Content-Disposition": f'inline; filename="progress-report.{format}"',
        },
    )


@router.get(
    "/v1/export/status",
    response_class=Response,
    responses={
        200: body_doc("one row per action", text=("text/csv",), binary=(XLSX,)),
        **errors_doc(401, 422),
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
    export = status_export_as_of(svc.ledger, as_of=optional_moment(as_of), agency=agency_scope(who))
    content, media_type = render_export(export, format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="status.{format}"'},
    )
