"""The checks the plan's changes share (domain/plan.py: agencies added and renamed,
recommendations amended, withdrawn, merged and renumbered), kept apart so each event's
rule in plan.py reads as a list of what it requires.

Why a withdrawal or a merge needs the recommendation's actions: an action whose
recommendation has left the plan would be working towards nothing, so both are refused
while any of its actions is open (`RuleContext.open_actions`), naming them, and the user
withdraws or merges those first. Actions already closed (verified, not implementable,
superseded, merged, withdrawn) stay in the record as they are; domain/figures.py counts
them nowhere once their recommendation is out of the plan.

The plan's rules import this module, so it imports neither aggregate (no import cycle)
and takes the plan, its recommendations and actions by their members (typed Any).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from domain.errors import InvalidInput, InvalidTransition
from domain.lifecycle import CLOSED
from domain.rules import RuleContext, require_string_list, require_text

#: What `plan.recommendation_amended` may change.
AMENDABLE = frozenset({"title", "text", "lead_agencies"})
MAX_NUMBER = 999


def require_number(value: object, field: str, rule: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_NUMBER:
        raise InvalidInput(rule, f"{field} must be a whole number 1-{MAX_NUMBER}: {value!r}")


def require_in_plan(plan: Any, number: object, rule: str) -> Any:
    """The recommendation `number` names, in the plan now (not withdrawn or merged); a
    former number is refused with the number it has now."""
    require_number(number, "number", rule)
    assert isinstance(number, int)
    found: Any = plan.recommendations.get(number)
    if found is None:
        now = plan.former_numbers.get(number)
        if now is not None:
            raise InvalidInput(rule, f"recommendation {number} is now recommendation {now}")
        raise InvalidInput(rule, f"no recommendation {number} in the plan")
    if found.withdrawn:
        raise InvalidTransition(rule, f"recommendation {number} is withdrawn")
    if found.merged_into is not None:
        raise InvalidTransition(
            rule, f"recommendation {number} is merged into recommendation {found.merged_into}"
        )
    return found


def require_unused_number(plan: Any, number: int, rule: str) -> None:
    """A former number stays its recommendation's, so it is never given to another."""
    now = plan.former_numbers.get(number)
    if now is not None:
        raise InvalidTransition(
            rule,
            f"{number} was recommendation {now}'s number and stays findable by it; "
            "choose another number",
        )


def require_known_agencies(plan: Any, agencies: Iterable[str], rule: str) -> None:
    unknown = [a for a in agencies if a not in plan.agencies]
    if unknown:
        raise InvalidInput(
            rule,
            f"unknown lead agencies: {', '.join(unknown)}; add an agency to the plan with "
            "`plan agency add`",
        )


def require_agency_name(plan: Any, name: object, agency: str | None, rule: str) -> None:
    """A display name, not another agency's (whatever its case): a status table that
    shows two agencies under one name would be read as one."""
    require_text(name, "agency name", rule, max_length=200)
    assert isinstance(name, str)
    for other, shown in plan.agencies.items():
        if other != agency and shown.casefold() == name.strip().casefold():
            raise InvalidInput(rule, f"{name!r} is already the name of agency {other!r}")


def check_recommendation_changes(plan: Any, found: Any, changes: object, rule: str) -> None:
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput(rule, "changes must name at least one of title, text, lead_agencies")
    unknown = set(changes) - AMENDABLE
    if unknown:
        raise InvalidInput(
            rule,
            f"cannot amend {', '.join(sorted(unknown))}: only title, text and lead_agencies "
            "(renumber, withdraw and merge are their own changes)",
        )
    if "title" in changes:
        require_text(changes["title"], "title", rule, max_length=500)
    if "text" in changes:
        require_text(changes["text"], "text", rule, empty=True)
    if "lead_agencies" in changes:
        require_string_list(changes["lead_agencies"], "lead_agencies", rule, non_empty=True)
        require_known_agencies(plan, changes["lead_agencies"], rule)
    if all(getattr(found, name) == value for name, value in changes.items()):
        raise InvalidTransition(rule, f"the changes leave recommendation {found.number} as it is")


def require_no_open_actions(
    plan: Any, number: int, ctx: RuleContext, rule: str, becoming: str
) -> None:
    """Refuse while any action of recommendation `number` (under any number it has had)
    is open. `ctx.open_actions` is None only where a caller checks before signing and
    cannot see every action (the ledger always can, and checks again on append)."""
    if ctx.open_actions is None:
        return
    found = sorted(ctx.open_actions(plan.numbers_of(number)), key=action_order)
    if found:
        listed = ", ".join(found)
        raise InvalidTransition(
            rule,
            f"recommendation {number} has open actions ({listed}): withdraw or merge them "
            f"first (`act {found[0]} withdraw --reason ...` or `act {found[0]} merge INTO "
            f"--reason ...`), so none is left open once it is {becoming}",
        )


def open_actions_among(aggregates: Iterable[Any], numbers: Collection[int]) -> list[str]:
    """The ids of the open actions of the recommendations `numbers` among `aggregates`
    (a replay's state): what `RuleContext.open_actions` answers where all are at hand.
    An action is told by its members, not its class, so this module, which the plan's
    rules import, imports neither aggregate (no import cycle)."""
    return sorted(
        (
            a.action_id
            for a in aggregates
            if isinstance(getattr(a, "action_id", None), str)
            and getattr(a, "recommendation", None) in numbers
            and a.status not in CLOSED
        ),
        key=action_order,
    )


def action_order(action_id: str) -> tuple[int, int]:
    head, _, tail = action_id.partition(".")
    try:
        return int(head[1:]), int(tail)
    except ValueError:
        return (0, 0)
