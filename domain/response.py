"""The response axis: the formal response to a recommendation (by whoever the inquiry
addressed it to) or, where an agency responds for itself, to one action; kept beside the
delivery status and the chair's verdict, never folded into them. Trackers keep it as an
axis of its own (New Zealand's Abuse in Care tracker shows a recommendation's response and
its status side by side): that a recommendation was accepted says nothing of whether it
was delivered.

The words differ from one inquiry to the next (Grenfell: "accepted in full" and "in
principle"; IICSA: "not adopted as proposed"), so the vocabulary is the ledger's own:
`DEFAULT_TERMS` until the plan editors sign another (`plan.response_vocabulary_set`). A
term is an identifier, which a response signs, and a label, which readers see. The first
term of a vocabulary is its full acceptance: a response in that term may give no
reasons, every other term needs them. A response already recorded keeps its term when
the vocabulary changes; a new one must use a term of the vocabulary then current.

A later response supersedes the earlier one; the state keeps every response (the last
is the current one), as the log keeps every entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from domain.errors import InvalidInput, InvalidTransition
from domain.rules import TermView, require_identifier, require_iso_date, require_text


@dataclass(frozen=True)
class ResponseTerm:
    """A term of the response vocabulary: its identifier and the label readers see."""

    id: str
    label: str


#: The vocabulary a ledger starts with, from the trackers' own (a response "not accepted"
#: is what some call "rejected"; name it so with a vocabulary of the ledger's own).
DEFAULT_TERMS: tuple[ResponseTerm, ...] = (
    ResponseTerm("accepted", "Accepted"),
    ResponseTerm("accepted_in_principle", "Accepted in principle"),
    ResponseTerm("partially_accepted", "Partially accepted"),
    ResponseTerm("under_consideration", "Under consideration"),
    ResponseTerm("not_accepted", "Not accepted"),
)
MAX_TERMS = 50
MAX_LABEL = 200
MAX_RESPONDER = 200
MAX_SOURCE = 2000
#: A response may be dated up to a day after the UTC date it is signed on: where the
#: responder is, that may already be the next day.
DATE_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Response:
    """A formal response as recorded: the term, when and by whom it was made, why, where
    it was published (may be empty), and who recorded it when."""

    term: str
    responded_on: str
    responder: str
    reasons: str
    source: str
    recorded_by: str
    recorded_at: datetime


def check_response(
    fields: dict[str, Any],
    terms: Sequence[TermView],
    signed_at: datetime,
    earlier: Sequence[Response],
    rule: str,
) -> None:
    """A response's members (`response`, `responded_on`, `responder`, `reasons`,
    `source`) are well formed, its term is in the current vocabulary `terms`, it is not
    dated after it is signed, and it is not the current response (`earlier[-1]`) again."""
    term = fields["response"]
    require_identifier(term, "response", rule)
    current = [t.id for t in terms]
    if term not in current:
        raise InvalidInput(
            rule, f"{term!r} is not a term of the response vocabulary: {', '.join(current)}"
        )
    on = fields["responded_on"]
    require_iso_date(on, "responded_on", rule)
    if date.fromisoformat(on) > (signed_at + DATE_GRACE).date():
        raise InvalidInput(rule, f"responded_on {on} is after the day it is recorded")
    require_text(fields["responder"], "responder", rule, max_length=MAX_RESPONDER)
    reasons = fields["reasons"]
    require_text(reasons, "reasons", rule, empty=True)
    if term != current[0] and not reasons.strip():
        raise InvalidInput(rule, f"a response of {term!r} must give its reasons")
    require_text(fields["source"], "source", rule, max_length=MAX_SOURCE, empty=True)
    if earlier and _same(earlier[-1], fields):
        raise InvalidTransition(rule, "this response is already the current one")


#: The members a response signs, in every event that records one.
FIELDS = ("response", "responded_on", "responder", "reasons", "source")


def _same(response: Response, fields: dict[str, Any]) -> bool:
    recorded = (response.term, response.responded_on, response.responder, response.reasons)
    return (*recorded, response.source) == tuple(fields[name] for name in FIELDS)


def check_terms(terms: object, current: Sequence[TermView], rule: str) -> None:
    """A vocabulary: 1 to MAX_TERMS distinct {id, label} terms, not the current one again."""
    if not isinstance(terms, list) or not terms:
        raise InvalidInput(rule, "a vocabulary names at least one term")
    if len(terms) > MAX_TERMS:
        raise InvalidInput(rule, f"a vocabulary names at most {MAX_TERMS} terms")
    seen: set[str] = set()
    for term in terms:
        if not isinstance(term, dict) or set(term) != {"id", "label"}:
            raise InvalidInput(rule, "each term is {id, label}")
        require_identifier(term["id"], "term id", rule)
        require_text(term["label"], "term label", rule, max_length=MAX_LABEL)
        if term["id"] in seen:
            raise InvalidInput(rule, f"term {term['id']!r} is listed twice")
        seen.add(term["id"])
    if [(t["id"], t["label"]) for t in terms] == [(t.id, t.label) for t in current]:
        raise InvalidTransition(rule, "the response vocabulary is already these terms")


def parse_terms(terms: list[dict[str, str]]) -> list[ResponseTerm]:
    return [ResponseTerm(term["id"], term["label"]) for term in terms]
