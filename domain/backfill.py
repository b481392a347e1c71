"""The recorded past: entries that state when a thing happened apart from when it was
recorded (valid time beside record time).

An inquiry that starts recording mid-way imports its past from the documents that
reported it (a council's report to Full Council, a government progress report). Each
such fact is an ``action.backfilled`` entry: the status the source reported, the date it
reported it for (`occurred_on`), and the citation (`source`). The entry is signed and
timestamped like any other when it is recorded, and obeys the same clock and witness
rules: the recorded time orders the log and is what "what the record said on date D"
cuts at; `occurred_on` is a claim inside the signed payload, never used to order anything.

Two questions, two cuts (`valid_time` below says which time an entry counts at):

- *as recorded* on D: the entries recorded by D (the log's own prefix), the record as
  it stood that day;
- *as occurred* by D: every entry recorded up to now whose valid time is at or before D,
  what had happened by D as the record now tells it.

Only the statuses a report can state without anybody's signature may be backfilled: the
agency's working states, and ``agency_signed_off`` read as "the agency reported it
complete". Never a sign-off, an acceptance or the chair's verification: those are
signatures of named people, which a later recorder cannot make on their behalf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from domain.errors import InvalidInput, InvalidTransition
from domain.lifecycle import AGENCY_WORKING, Status
from domain.rules import require_iso_date, require_text

BACKFILL_TYPE = "action.backfilled"

#: What a source may be cited for. `agency_signed_off` is the agency's reported claim.
BACKFILLABLE = AGENCY_WORKING | {Status.AGENCY_SIGNED_OFF}

#: Entries that describe the plan and its people rather than something that happened
#: to an action: in an "as occurred" view they stand whenever they were recorded, so a
#: plan recorded in 2026 can show what had happened in 2023.
TIMELESS_PREFIXES = ("directory.", "ledger.")
TIMELESS_TYPES = frozenset(
    {
        "plan.imported",
        "plan.recommendation_added",
        "plan.recommendation_amended",
        "plan.agency_added",
        "plan.agency_renamed",
        "plan.recommendation_renumbered",
        "plan.recommendation_referenced",
        "plan.response_vocabulary_set",
        "plan.wording_set",
        "action.added",
        "action.amended",
        "action.officer_assigned",
    }
)
#: Entries whose payload states when the thing happened (a formal response's date).
DATED_BY_PAYLOAD = {
    BACKFILL_TYPE: "occurred_on",
    "plan.response_recorded": "responded_on",
    "action.response_recorded": "responded_on",
}


@dataclass(frozen=True)
class Backfill:
    """One backfilled fact: the status `source` reported for `occurred_on`, and who
    recorded it when (the entry's signer and timestamp)."""

    status: Status
    occurred_on: str
    source: str
    note: str
    recorded_by: str
    recorded_at: datetime


def end_of_day(day: str) -> datetime:
    """The last moment of a date, UTC: a fact dated D counts for every cut on day D."""
    return datetime.combine(date.fromisoformat(day), time.max, tzinfo=UTC)


def valid_time(
    type_name: str, payload: Mapping[str, Any], recorded_at: datetime
) -> datetime | None:
    """When the entry's fact happened (None: timeless, it stands in every "as occurred"
    view). A date the payload states counts to the end of that day."""
    if type_name in TIMELESS_TYPES or type_name.startswith(TIMELESS_PREFIXES):
        return None
    member = DATED_BY_PAYLOAD.get(type_name)
    if member is not None:
        stated = payload.get(member)
        if isinstance(stated, str) and len(stated) == 10:
            try:
                return end_of_day(stated)
            except ValueError:
                return recorded_at
    return recorded_at


def check_backfill(
    payload: Mapping[str, Any],
    *,
    recorded_at: datetime,
    earlier: list[Backfill],
    live_since: datetime | None,
    rule: str,
) -> None:
    """Refuse a backfill that is not a dated, cited, backfillable status; that is dated
    after the day it is recorded; that goes back before an earlier backfill of the same
    action (each action's past is recorded in the order it happened, so every "as
    occurred" cut is a prefix of it); or that is dated on or after the action's first
    live entry (the past is what came before live recording began)."""
    try:
        status = Status(payload["status"])
    except (ValueError, TypeError):
        raise InvalidInput(rule, f"unknown status {payload['status']!r}") from None
    if status not in BACKFILLABLE:
        allowed = ", ".join(sorted(s.value for s in BACKFILLABLE))
        raise InvalidInput(
            rule,
            f"{status} cannot be backfilled (sign-offs and verdicts are signatures of "
            f"the people who make them); a source may be cited for: {allowed}",
        )
    require_iso_date(payload["occurred_on"], "occurred_on", rule)
    require_text(payload["source"], "source", rule, max_length=2000)
    require_text(payload["note"], "note", rule, max_length=4000, empty=True)
    occurred = date.fromisoformat(payload["occurred_on"])
    if occurred > recorded_at.astimezone(UTC).date():
        raise InvalidInput(
            rule, f"occurred_on {occurred} is after the day it is recorded; record it then"
        )
    if earlier and occurred < date.fromisoformat(earlier[-1].occurred_on):
        raise InvalidTransition(
            rule,
            f"occurred_on {occurred} is before this action's last backfilled fact "
            f"({earlier[-1].occurred_on}): record an action's past oldest first",
        )
    if live_since is not None and occurred >= live_since.astimezone(UTC).date():
        raise InvalidTransition(
            rule,
            f"this action has been recorded live since {live_since.date()}; a backfilled "
            "fact must be dated before then",
        )
