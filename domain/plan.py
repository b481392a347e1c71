"""The plan: its agencies and the inquiry's recommendations (actions are separate aggregates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition
from domain.events import SignedEvent
from domain.lifecycle import PLAN_EDITORS
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
