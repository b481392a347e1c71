"""What a rule check sees, and the small vocabulary of checks the aggregates share."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from domain.errors import InvalidInput, NotPermitted
from domain.roles import AGENCY_ROLES, Actor, Role

IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # whole string: fullmatch
MAX_TEXT = 20_000


class Member(Protocol):
    """What a rule may read of a registered user."""

    @property
    def role(self) -> Role: ...
    @property
    def agency(self) -> str | None: ...


class DirectoryView(Protocol):
    """What a rule may read of the directory (`domain.directory.Directory` is one). A
    protocol, not the class, so the rules sit below the aggregates that use them."""

    @property
    def users(self) -> Mapping[str, Member]: ...


class TermView(Protocol):
    """A term of the plan's response vocabulary (`domain.response.ResponseTerm` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def label(self) -> str: ...


class PlanView(Protocol):
    """What a rule may read of the plan (`domain.plan.Plan` is one)."""

    @property
    def agencies(self) -> Mapping[str, str]: ...
    @property
    def recommendations(self) -> Mapping[int, object]: ...
    @property
    def response_terms(self) -> Sequence[TermView]: ...


@dataclass(frozen=True)
class RuleContext:
    """The actor (resolved from the directory, never from the event's own claim) and the
    read-only aggregates a rule may consult."""

    actor: Actor
    directory: DirectoryView | None
    plan: PlanView | None
    #: The ids of the open actions of the recommendations numbered so (any number they
    #: have had), for the rules of a recommendation's withdrawal and merge
    #: (domain/plan_changes.py). None where a caller cannot see every action.
    open_actions: Callable[[Collection[int]], list[str]] | None = None
    #: An action by its id (`domain.action.Action`, or None if there is none), for the
    #: rules of a challenge on an action (domain/challenge.py): the agency it addresses
    #: must lead it, the evidence an answer cites must be the action's. None where a
    #: caller cannot see the actions (those rules are then checked when it is appended).
    action: Callable[[str], Any] | None = None


def require_role(ctx: RuleContext, allowed: Collection[Role], rule: str, doing: str) -> None:
    if ctx.actor.role not in allowed:
        names = ", ".join(sorted(role.value for role in allowed))
        raise NotPermitted(rule, f"{ctx.actor.describe()} may not {doing}; allowed: {names}")


def require_own_agency(ctx: RuleContext, agency: str, rule: str, doing: str) -> None:
    """Officers and agency leads act only on their own agency's actions."""
    if ctx.actor.role in AGENCY_ROLES and ctx.actor.agency != agency:
        raise NotPermitted(
            rule, f"{ctx.actor.describe()} may not {doing} for an action led by {agency}"
        )


def require_text(
    value: object, field: str, rule: str, *, max_length: int = MAX_TEXT, empty: bool = False
) -> None:
    """A string of at most `max_length`; not blank unless `empty` (an optional field)."""
    if not isinstance(value, str) or not (empty or value.strip()):
        raise InvalidInput(rule, f"{field} must be a {'' if empty else 'non-empty '}string")
    if len(value) > max_length:
        raise InvalidInput(rule, f"{field} is longer than {max_length} characters")


def require_identifier(value: object, field: str, rule: str) -> None:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise InvalidInput(
            rule, f"{field} must be 1-64 characters of a-z, 0-9, '.', '_' or '-': {value!r}"
        )


def require_iso_date(value: object, field: str, rule: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidInput(rule, f"{field} must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(rule, f"{field} must be a date YYYY-MM-DD, got {value!r}") from None
    if len(value) != 10:
        raise InvalidInput(rule, f"{field} must be a date YYYY-MM-DD, got {value!r}")


def require_string_list(value: object, field: str, rule: str, *, non_empty: bool = False) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput(rule, f"{field} must be a list of non-empty strings")
    if non_empty and not value:
        raise InvalidInput(rule, f"{field} must not be empty")
