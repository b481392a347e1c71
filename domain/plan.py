"""The plan: its agencies and the inquiry's recommendations (actions are separate aggregates),
and the formal response to each recommendation in the plan's response vocabulary
(domain/response.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition
from domain.events import SignedEvent
from domain.lifecycle import PLAN_EDITORS
from domain.response import (
    DEFAULT_TERMS,
    Response,
    ResponseTerm,
    check_response,
    check_terms,
    parse_terms,
)
from domain.rules import (
    RuleContext,
    require_identifier,
    require_role,
    require_string_list,
    require_text,
)


@dataclass
class Recommendation:
    number: int
    title: str
    text: str
    lead_agencies: list[str]


class Plan(Aggregate):
    def __init__(self) -> None:
        self.title = ""
        self.source = ""
        self.agencies: dict[str, str] = {}
        self.recommendations_expected = 0
        self.recommendations: dict[int, Recommendation] = {}
        #: Each recommendation's formal responses, oldest first: the last is the current.
        self.responses: dict[int, list[Response]] = {}
        #: The response vocabulary a new response must use.
        self.response_terms: list[ResponseTerm] = list(DEFAULT_TERMS)
        #: The label of every term any vocabulary of this plan has had (the latest label
        #: a term id was given), so a response keeps a label when its term is dropped.
        self.response_labels: dict[str, str] = {t.id: t.label for t in DEFAULT_TERMS}

    def current_response(self, number: int) -> Response | None:
        found = self.responses.get(number)
        return found[-1] if found else None

    class Event(SignedEvent):
        pass

    class Created(Event, Aggregate.Created):
        """The plan was imported: its title, where it comes from, and the agencies in it."""

        TYPE = "plan.imported"
        title: str
        source: str
        agencies: list[dict[str, str]]
        recommendations_expected: int

        def check(self, state: Any, ctx: RuleContext) -> None:
            rule = "plan.import"
            require_role(ctx, PLAN_EDITORS, rule, "import the plan")
            if state is not None:
                raise InvalidTransition(rule, "the plan has already been imported")
            require_text(self.title, "title", rule, max_length=500)
            require_text(self.source, "source", rule, max_length=2000)
            if not isinstance(self.agencies, list) or not self.agencies:
                raise InvalidInput(rule, "a plan names at least one agency")
            expected = self.recommendations_expected
            if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
                raise InvalidInput(rule, "recommendations_expected must be a whole number")
            seen: set[str] = set()
            for agency in self.agencies:
                if not isinstance(agency, dict) or set(agency) != {"id", "name"}:
                    raise InvalidInput(rule, "each agency is {id, name}")
                require_identifier(agency["id"], "agency id", rule)
                require_text(agency["name"], "agency name", rule, max_length=200)
                if agency["id"] in seen:
                    raise InvalidInput(rule, f"agency {agency['id']!r} is listed twice")
                seen.add(agency["id"])

        def apply(self, plan: Plan) -> None:
            plan.title = self.title
            plan.source = self.source
            plan.agencies = {a["id"]: a["name"] for a in self.agencies}
            plan.recommendations_expected = self.recommendations_expected

    class RecommendationAdded(Event):
        TYPE = "plan.recommendation_added"
        number: int
        title: str
        text: str
        lead_agencies: list[str]

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.add_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "add recommendations")
            if (
                not isinstance(self.number, int)
                or isinstance(self.number, bool)
                or not (1 <= self.number <= 999)
            ):
                raise InvalidInput(rule, f"recommendation number must be 1-999: {self.number!r}")
            if self.number in state.recommendations:
                raise InvalidTransition(rule, f"recommendation {self.number} already exists")
            require_text(self.title, "title", rule, max_length=500)
            if not isinstance(self.text, str):
                raise InvalidInput(rule, "text must be a string")
            require_string_list(self.lead_agencies, "lead_agencies", rule, non_empty=True)
            unknown = [a for a in self.lead_agencies if a not in state.agencies]
            if unknown:
                raise InvalidInput(rule, f"unknown lead agencies: {', '.join(unknown)}")

        def apply(self, plan: Plan) -> None:
            plan.recommendations[self.number] = Recommendation(
                self.number, self.title, self.text, list(self.lead_agencies)
            )

    class ResponseRecorded(Event):
        """The formal response to a recommendation: its term, the date it was made, who
        made it (an organisation's name: "Home Office"), its reasons and where it was
        published (may be empty). A later one supersedes it; both stay."""

        TYPE = "plan.response_recorded"
        number: int
        response: str
        responded_on: str
        responder: str
        reasons: str
        source: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.record_response"
            require_role(ctx, PLAN_EDITORS, rule, "record responses to recommendations")
            if (
                not isinstance(self.number, int)
                or isinstance(self.number, bool)
                or self.number not in state.recommendations
            ):
                raise InvalidInput(rule, f"no recommendation {self.number!r} in the plan")
            check_response(
                self.payload(),
                state.response_terms,
                self.timestamp,
                state.responses.get(self.number, []),
                rule,
            )

        def apply(self, plan: Plan) -> None:
            plan.responses.setdefault(self.number, []).append(
                Response(
                    self.response,
                    self.responded_on,
                    self.responder,
                    self.reasons,
                    self.source,
                    self.actor,
                    self.timestamp,
                )
            )

    class ResponseVocabularySet(Event):
        """The plan's response vocabulary from now on (`terms`: [{id, label}], the first
        its full acceptance, which alone needs no reasons). Responses already recorded
        keep their terms."""

        TYPE = "plan.response_vocabulary_set"
        terms: list[dict[str, str]]

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.set_response_vocabulary"
            require_role(ctx, PLAN_EDITORS, rule, "set the response vocabulary")
            check_terms(self.terms, state.response_terms, rule)

        def apply(self, plan: Plan) -> None:
            plan.response_terms = parse_terms(self.terms)
            plan.response_labels.update({t.id: t.label for t in plan.response_terms})
