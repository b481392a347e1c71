"""The plan: its agencies and the inquiry's recommendations (actions are separate aggregates),
and the formal response to each recommendation in the plan's response vocabulary
(domain/response.py). The plan lives: agencies are added and renamed, recommendations
amended, withdrawn, merged and renumbered, each change with its reason (the checks they
share are in domain/plan_changes.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition
from domain.events import SignedEvent
from domain.lifecycle import PLAN_EDITORS
from domain.plan_changes import (
    check_recommendation_changes,
    require_agency_name,
    require_in_plan,
    require_known_agencies,
    require_no_open_actions,
    require_number,
    require_unused_number,
)
from domain.references import (
    check_group,
    check_reference,
    reference_key,
    require_free_reference,
    require_number_unreferenced,
)
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
from domain.wording import check_words


@dataclass
class Recommendation:
    number: int
    title: str
    text: str
    lead_agencies: list[str]
    #: Withdrawn from the plan, or merged into another recommendation (its number): it
    #: stays in the plan's record, shown as such, and counts as nothing outstanding.
    withdrawn: bool = False
    merged_into: int | None = None
    closed_reason: str | None = None
    #: The numbers it had before (oldest first): each stays findable (`Plan.current_number`).
    former_numbers: list[int] = field(default_factory=list)
    #: How the inquiry writes it ("113.6", "K10.1"; "" until given: the number is it), the
    #: group it sits in (a phase, a chapter), and the references it had before
    #: (domain/references.py).
    reference: str = ""
    group: str = ""
    former_references: list[str] = field(default_factory=list)

    @property
    def removed(self) -> bool:
        return self.withdrawn or self.merged_into is not None

    @property
    def label(self) -> str:
        """What a reader sees and types: the inquiry's reference, else the number."""
        return self.reference or str(self.number)

    @property
    def placeholder(self) -> bool:
        """In the inquiry's list, but its text is not yet known: never given one."""
        return not self.title


class Plan(Aggregate):
    def __init__(self) -> None:
        self.title = ""
        self.source = ""
        self.agencies: dict[str, str] = {}
        self.recommendations_expected = 0
        self.recommendations: dict[int, Recommendation] = {}
        #: A renumbered recommendation's former numbers -> its number now (never reused).
        self.former_numbers: dict[int, int] = {}
        #: Each recommendation's formal responses, oldest first: the last is the current.
        self.responses: dict[int, list[Response]] = {}
        #: The response vocabulary a new response must use.
        self.response_terms: list[ResponseTerm] = list(DEFAULT_TERMS)
        #: The label of every term any vocabulary of this plan has had (the latest label
        #: a term id was given), so a response keeps a label when its term is dropped.
        self.response_labels: dict[str, str] = {t.id: t.label for t in DEFAULT_TERMS}
        #: The words this ledger has signed for its report and bodies (domain/wording.py;
        #: a key not here reads as its generic default).
        self.wording: dict[str, str] = {}

    def current_number(self, number: int) -> int | None:
        """The number a recommendation has now, given this one or a former one."""
        if number in self.recommendations:
            return number
        return self.former_numbers.get(number)

    def find(self, text: str) -> int | None:
        """The number of the recommendation a reader means by `text`: its number (or a
        former one) written as digits, or its reference (or a former one), compared as
        `reference_key` does; None if none."""
        typed = text.strip()
        if typed.isascii() and typed.isdigit():
            found = self.current_number(int(typed))
            if found is not None:
                return found
        key = reference_key(typed)
        for number, rec in self.recommendations.items():
            if key in {reference_key(r) for r in [rec.reference, *rec.former_references] if r}:
                return number
        return None

    def references_taken(self) -> list[tuple[int, str]]:
        """(number, reference) of every reference any recommendation has or had."""
        return [
            (number, reference)
            for number, rec in self.recommendations.items()
            for reference in [rec.reference, *rec.former_references]
            if reference
        ]

    def numbers_of(self, number: int) -> list[int]:
        """Every number recommendation `number` has had: what its actions may carry."""
        return [number, *self.recommendations[number].former_numbers]

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
            require_unused_number(state, self.number, rule)
            require_number_unreferenced(self.number, None, state.references_taken(), rule)
            require_text(self.title, "title", rule, max_length=500, empty=True)
            if not isinstance(self.text, str):
                raise InvalidInput(rule, "text must be a string")
            if not self.title.strip():
                # A placeholder: the inquiry lists it, its words are not yet known. Nothing
                # is invented for it; `plan recommendation amend` gives it its text later.
                if self.title or self.text or self.lead_agencies:
                    raise InvalidInput(
                        rule,
                        "a recommendation without a title is a placeholder: its text and "
                        "lead agencies wait for its title too",
                    )
                return
            require_string_list(self.lead_agencies, "lead_agencies", rule, non_empty=True)
            require_known_agencies(state, self.lead_agencies, rule)

        def apply(self, plan: Plan) -> None:
            plan.recommendations[self.number] = Recommendation(
                self.number, self.title, self.text, list(self.lead_agencies)
            )

    # -- the plan changes: each with its reason (domain/plan_changes.py holds the checks) --

    class AgencyAdded(Event):
        """An agency joins the plan after its import (an agency the inquiry's plan did not
        name, or one newly made responsible). Its id is fixed from now on."""

        TYPE = "plan.agency_added"
        id: str
        name: str
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.add_agency"
            require_role(ctx, PLAN_EDITORS, rule, "add agencies to the plan")
            require_identifier(self.id, "agency id", rule)
            if self.id in state.agencies:
                raise InvalidTransition(
                    rule, f"agency {self.id!r} is already in the plan ({state.agencies[self.id]})"
                )
            require_agency_name(state, self.name, None, rule)
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            plan.agencies[self.id] = self.name

    class AgencyRenamed(Event):
        """An agency's display name from now on (a reorganisation, a new name): its id,
        and so every action, user and sign-off that names it, stays as it was; the
        former name stays in the log."""

        TYPE = "plan.agency_renamed"
        id: str
        name: str
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.rename_agency"
            require_role(ctx, PLAN_EDITORS, rule, "rename agencies")
            if not isinstance(self.id, str) or self.id not in state.agencies:
                known = ", ".join(sorted(state.agencies))
                raise InvalidInput(
                    rule,
                    f"no agency {self.id!r} in the plan (known: {known}); "
                    "add it with `plan agency add`",
                )
            if self.name == state.agencies[self.id]:
                raise InvalidTransition(rule, f"agency {self.id!r} is already named {self.name!r}")
            require_agency_name(state, self.name, self.id, rule)
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            plan.agencies[self.id] = self.name

    class RecommendationReferenced(Event):
        """How the inquiry writes a recommendation's reference ("113.6", "K10.1"), and the
        group it sits in (a phase, a chapter; may be empty), with the reason: given on
        import, or corrected later, when the reference it had stays findable."""

        TYPE = "plan.recommendation_referenced"
        number: int
        reference: str
        group: str
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.reference_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "give recommendations their references")
            rec = require_in_plan(state, self.number, rule)
            check_reference(self.reference, rule)
            check_group(self.group, rule)
            require_text(self.reason, "reason", rule)
            if self.reference == rec.reference and self.group == rec.group:
                raise InvalidTransition(
                    rule, f"recommendation {self.number} already has that reference and group"
                )
            numbers = [*state.recommendations, *state.former_numbers]
            taken = state.references_taken()
            require_free_reference(self.reference, self.number, taken, numbers, rule)

        def apply(self, plan: Plan) -> None:
            rec = plan.recommendations[self.number]
            if rec.reference and rec.reference != self.reference:
                rec.former_references.append(rec.reference)
            rec.reference, rec.group = self.reference, self.group

    class RecommendationAmended(Event):
        """A recommendation's title, text or lead agencies changed (`changes` names only
        those that change), with the reason. Its actions are unchanged."""

        TYPE = "plan.recommendation_amended"
        number: int
        changes: dict[str, Any]
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.amend_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "amend recommendations")
            found = require_in_plan(state, self.number, rule)
            check_recommendation_changes(state, found, self.changes, rule)
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            found = plan.recommendations[self.number]
            for name, value in self.changes.items():
                setattr(found, name, list(value) if isinstance(value, list) else value)

    class RecommendationWithdrawn(Event):
        """The recommendation leaves the plan (the inquiry's follow-up dropped it, or it
        was imported in error). Refused while any of its actions is open: withdraw or
        merge those first, so no action is left working towards nothing."""

        TYPE = "plan.recommendation_withdrawn"
        number: int
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.withdraw_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "withdraw recommendations")
            require_in_plan(state, self.number, rule)
            require_no_open_actions(state, self.number, ctx, rule, "withdrawn")
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            found = plan.recommendations[self.number]
            found.withdrawn = True
            found.closed_reason = self.reason

    class RecommendationMerged(Event):
        """The recommendation is merged into another (`into`), which carries its work from
        now on. Refused while any of its actions is open, as a withdrawal is."""

        TYPE = "plan.recommendation_merged"
        number: int
        into: int
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.merge_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "merge recommendations")
            require_in_plan(state, self.number, rule)
            require_in_plan(state, self.into, rule)
            if self.into == self.number:
                raise InvalidInput(rule, "a recommendation cannot be merged into itself")
            require_no_open_actions(state, self.number, ctx, rule, "merged")
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            found = plan.recommendations[self.number]
            found.merged_into = self.into
            found.closed_reason = self.reason

    class RecommendationRenumbered(Event):
        """The recommendation is known by `new_number` from now on (a renumbered follow-up
        report). Its former number stays findable and is never given to another; its
        actions keep their ids (R10.2 stays R10.2) and follow it; new ones use the new
        number."""

        TYPE = "plan.recommendation_renumbered"
        number: int
        new_number: int
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.renumber_recommendation"
            require_role(ctx, PLAN_EDITORS, rule, "renumber recommendations")
            require_in_plan(state, self.number, rule)
            require_number(self.new_number, "new_number", rule)
            if self.new_number in state.recommendations:
                raise InvalidTransition(
                    rule, f"recommendation {self.new_number} already exists; choose a free number"
                )
            require_unused_number(state, self.new_number, rule)
            taken = state.references_taken()
            require_number_unreferenced(self.new_number, self.number, taken, rule)
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            found = plan.recommendations.pop(self.number)
            found.former_numbers.append(self.number)
            found.number = self.new_number
            plan.recommendations[self.new_number] = found
            for old, now in plan.former_numbers.items():
                if now == self.number:
                    plan.former_numbers[old] = self.new_number
            plan.former_numbers[self.number] = self.new_number
            for other in plan.recommendations.values():
                if other.merged_into == self.number:
                    other.merged_into = self.new_number
            if self.number in plan.responses:
                plan.responses[self.new_number] = plan.responses.pop(self.number)

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
                now = state.former_numbers.get(self.number)
                if now is not None:
                    raise InvalidInput(
                        rule, f"recommendation {self.number} is now recommendation {now}"
                    )
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

    class WordingSet(Event):
        """The words the ledger uses from now on (`words`: {key: text}, keys of
        domain/wording.py; a key left out keeps its value), and why they changed."""

        TYPE = "plan.wording_set"
        words: dict[str, str]
        reason: str

        def check(self, state: Plan, ctx: RuleContext) -> None:
            rule = "plan.set_wording"
            require_role(ctx, PLAN_EDITORS, rule, "set the ledger's words")
            check_words(self.words, rule)
            require_text(self.reason, "reason", rule, max_length=2000)

        def apply(self, plan: Plan) -> None:
            plan.wording = {**plan.wording, **self.words}
