"""The public tracker's routes: pages at /public and JSON at /public/v1, no sign-in.

Both answer 404 unless the operator publishes the ledger (INQUIRY_LEDGER_PUBLIC=on), so
a ledger is never public by accident. Every answer carries the checkpoint it was built
from and the proof material for the entries behind it (ledger/public_proofs.py); the
pages check it in the reader's browser (/static/public.js) and the JSON is for
machines, which check it themselves (`inquiry-ledger public-check`).

A view is stable for as long as the checkpoint it was cut at is the newest, so answers
may be cached briefly by anyone (``public, max-age=10``); a URL per recommendation
(``/public/recommendations/12``) stays the same for the life of the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.http import errors
from api.http.deps import config, services
from api.http.pages.render import templates as page_templates
from api.http.public.views import NothingPublished, PublicViews, views_of
from api.http.security import SECURITY_HEADERS
from domain.wording import in_sentence, resolved
from projections.evidence import is_published
from projections.public import Renumbered
from projections.timeline import UnknownSubject

HERE = Path(__file__).resolve().parent
CACHE = "public, max-age=10"
HEADERS = {**SECURITY_HEADERS, "Cache-Control": CACHE}
RecommendationNumber = Annotated[int, FastAPIPath(ge=1, le=999)]
Sha256 = Annotated[str, FastAPIPath(pattern="^[0-9a-f]{64}$")]
AgencyId = Annotated[str, FastAPIPath(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]

router = APIRouter(include_in_schema=False)
#: Not in /openapi.json: the JSON is the page's own view and proof material (README, "The public
#: tracker"; ledger/public_proofs.py), not the /v1 API, and its shape follows the page's.
api_router = APIRouter(include_in_schema=False)

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(page_templates.filters)

#: How each status reads, and the tag's class (the text always says it: never colour alone).
STATUS_WORDS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "blocked": "Blocked",
    "evidence_submitted": "Evidence submitted",
    "agency_signed_off": "Agency signed off",
    "accepted": "Accepted by the {body_implementation_group}",
    "verified": "Verified by the {body_chair}",
    "not_implementable": "{not_implementable} ({body_chair})",
    "superseded": "Superseded ({body_chair})",
    "merged": "Merged",
    "withdrawn": "Withdrawn",
    "complete": "Complete",
}


def status_words(status: object, words: dict[str, str] | None = None) -> str:
    """How a status reads on a public page, naming the bodies and the not_implementable
    outcome in the ledger's words as the page's view has them (domain/wording.py)."""
    found = STATUS_WORDS.get(str(status))
    if found is None:
        return str(status).replace("_", " ")
    given = resolved(words)
    return found.format(
        not_implementable=given["not_implementable"],
        **{key: in_sentence(value) for key, value in given.items() if key.startswith("body_")},
    )


templates.filters["status_words"] = status_words


class NotPublished(Exception):
    """The ledger is not published (INQUIRY_LEDGER_PUBLIC is off)."""


def _views(request: Request) -> PublicViews:
    cfg = config(request)
    if not cfg.public:
        raise NotPublished
    return views_of(request.app.state, services(request).ledger, cfg)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    html = templates.get_template(template).render(path=request.url.path, **context)
    headers = HEADERS if status == 200 else SECURITY_HEADERS
    return HTMLResponse(html, status_code=status, headers=headers)


def _json(found: dict[str, Any]) -> JSONResponse:
    return JSONResponse(found, headers={"Cache-Control": CACHE})


def _not_found(request: Request, message: str) -> Response:
    if request.url.path.startswith("/public/v1"):
        return errors.error(404, "not_found", message)
    return _page(request, "public_error.html", 404, message=message)


def _answer(request: Request, template: str, build: Any, **context: Any) -> Response:
    try:
        views = _views(request)
        found = build(views)
    except NotPublished:
        return _not_found(request, "this ledger is not published")
    except NothingPublished:
        return _not_found(request, "nothing is published yet: the log has no signed checkpoint")
    except Renumbered as moved:  # a former number finds the recommendation under its new one
        where = request.url.path.rsplit("/", 1)[0] + f"/{moved.now}"
        return RedirectResponse(where, status_code=302, headers=HEADERS)
    except (UnknownSubject, KeyError) as error:
        return _not_found(request, str(error).strip("'\""))
    if request.url.path.startswith("/public/v1"):
        return _json(found)
    return _page(request, template, found=found, view=found["view"], **context)


@router.get("/public")
def public_plan(request: Request) -> Response:
    """The plan: each recommendation with its status, and each agency's summary."""
    return _answer(request, "public_plan.html", lambda v: v.plan())


@router.get("/public/recommendations/{number}")
def public_recommendation(request: Request, number: RecommendationNumber) -> Response:
    """One recommendation: its text, its actions, and every public decision on them."""
    return _answer(request, "public_recommendation.html", lambda v: v.recommendation(number))


@router.get("/public/agencies/{agency}")
def public_agency(request: Request, agency: AgencyId) -> Response:
    """One agency's actions and their statuses."""
    return _answer(request, "public_agency.html", lambda v: v.agency(agency))


@router.get("/public/evidence/{sha256}")
def public_evidence(request: Request, sha256: Sha256) -> Response:
    """A file its agency published with a signed statement, while it stays published
    (unpublished, withdrawn or erased: 404 at once, whatever the checkpoint)."""
    try:
        _views(request)
    except NotPublished:
        return _not_found(request, "this ledger is not published")
    svc = services(request)
    if not is_published(svc.ledger, sha256):
        return _not_found(request, "no published evidence has that hash")
    chunks = svc.evidence.store.read(sha256)
    first = next(chunks)  # fail before the response starts if it cannot be read at all

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={
            **HEADERS,
            "X-Content-SHA256": sha256,
            "Content-Disposition": f'attachment; filename="{sha256}"',
        },
    )


@router.get("/public/keys")
def public_keys(request: Request) -> Response:
    """The keys this server states, to compare with those the chair publishes, and the
    reader's own pinned keys (kept in their browser)."""
    try:
        views = _views(request)
    except NotPublished:
        return _not_found(request, "this ledger is not published")
    return _page(request, "public_keys.html", keys=views.keys())


@api_router.get("/public/v1/plan")
def public_plan_json(request: Request) -> Response:
    """The published plan as at the newest checkpoint, with its proof material."""
    return _answer(request, "", lambda v: v.plan())


@api_router.get("/public/v1/recommendations/{number}")
def public_recommendation_json(request: Request, number: RecommendationNumber) -> Response:
    """One published recommendation as at the newest checkpoint, with its proof material."""
    return _answer(request, "", lambda v: v.recommendation(number))


@api_router.get("/public/v1/agencies/{agency}")
def public_agency_json(request: Request, agency: AgencyId) -> Response:
    """One agency's published summary as at the newest checkpoint."""
    return _answer(request, "", lambda v: v.agency(agency))


@api_router.get("/public/v1/keys")
def public_keys_json(request: Request) -> Response:
    """The keys this server states: the log's verifier key and its witnesses'."""
    try:
        views = _views(request)
    except NotPublished:
        return _not_found(request, "this ledger is not published")
    return _json(views.keys())
