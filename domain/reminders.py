"""Reminders: the escalation ladder and the signed record of each digest sent.

An agency that lets an action slip past its due date is chased, and the longer it is
overdue the wider the audience (the IICSA model: letters at 3, 6 and 7 months, then a
formal request for a statement at 9). The ladder, with the default intervals 3, 6, 9:

    level 0  due soon, or overdue by less than the first interval
             -> the officers assigned to the action and the agency's leads
    level 1  overdue >= 3 months  -> also the implementation group
    level 2  overdue >= 6 months  -> also the chair
    level 3  overdue >= 9 months  -> also scrutiny: a formal statement request
    level 4+ (if more intervals are configured) -> the same audience as level 3;
             the top level is then the formal statement request (3,6,7,9 is IICSA's)

Every digest the mail server accepted is recorded by a signed ``reminder.digest_sent``
event on the agency's own ``Reminders`` aggregate (one per agency, at an id derived from
the agency's name), so "were they told, when, and who was told" is answered by the log.
The event names user ids, never email addresses (personal data stays out of the
immutable log), and the SHA-256 of the message body, never the body.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput
from domain.events import SignedEvent
from domain.ids import NAMESPACE
from domain.roles import AGENCY_ROLES, Role
from domain.rules import RuleContext, require_identifier, require_iso_date, require_role

#: Who may send reminders and record them: the implementation group chases agencies;
#: an administrator runs the scheduled job. Agencies, the chair and scrutiny may not.
SENDERS = frozenset({Role.ADMIN, Role.IMPLEMENTATION_GROUP})
#: Roles outside the agency that a digest may go to; each level of the ladder adds one.
LADDER = (Role.IMPLEMENTATION_GROUP, Role.CHAIR, Role.SCRUTINY)
DEFAULT_ESCALATION_MONTHS = (3, 6, 9)
MAX_MONTHS = 120
MAX_WITHIN_DAYS = 366
ITEM_MEMBERS = frozenset({"action_id", "due_date", "level", "overdue"})
#: An action arising chased (domain/session.py): its id ("pcc-aa-2023-03.1", of which the
#: session is the part before the last dot), due date, level and whether it is overdue.
ARISING_ITEM_MEMBERS = frozenset({"arising_id", "due_date", "level", "overdue"})
UPDATE_ITEM_MEMBERS = frozenset({"action_id", "due_date", "overdue"})
MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")  # whole string: fullmatch
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
RULE = "reminder.send"


def reminders_aggregate_id(agency: str) -> UUID:
    """Every party derives the same aggregate id for an agency's reminders."""
    return uuid5(NAMESPACE, f"reminders:{agency}")


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (the 31st becomes the month's last day)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def escalation_level(due: date, as_of: date, months: Sequence[int]) -> int:
    """Level k once overdue by at least the k-th interval; 0 when due soon or newly overdue."""
    level = 0
    for k, interval in enumerate(months, start=1):
        if as_of >= add_months(due, interval):
            level = k
    return level


def audience_roles(level: int) -> frozenset[Role]:
    """The roles beyond the agency's own people that a digest item of `level` goes to."""
    return frozenset(LADDER[: min(level, len(LADDER))])


def check_escalation_months(months: object, rule: str = RULE) -> tuple[int, ...]:
    """Intervals are whole months, strictly increasing, from 1 to MAX_MONTHS."""
    if not isinstance(months, list | tuple) or not months:
        raise InvalidInput(rule, "escalation intervals must be a non-empty list of months")
    previous = 0
    for value in months:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(rule, f"escalation intervals are whole months >= 1: {value!r}")
        if value > MAX_MONTHS:
            raise InvalidInput(rule, f"escalation intervals are at most {MAX_MONTHS} months")
        if value <= previous:
            raise InvalidInput(rule, "escalation intervals must increase, e.g. 3,6,9")
        previous = value
    return tuple(cast(Sequence[int], months))


def check_due_items(
    items: object, as_of: date, within: int, members: frozenset[str], key: str = "action_id"
) -> list[dict[str, Any]]:
    """A message's actions (or actions arising, by `key`): at least one, distinct, each
    with exactly `members`, each overdue on `as_of` (and saying so) or due within
    `within` days of it."""
    what = "action arising" if key == "arising_id" else "action"
    if not isinstance(items, list) or not items:
        raise InvalidInput(RULE, f"a message names at least one {what}")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or set(item) != members:
            raise InvalidInput(RULE, f"each {what} is {{{', '.join(sorted(members))}}}")
        action_id = item[key]
        if not isinstance(action_id, str) or not action_id or action_id in seen:
            raise InvalidInput(RULE, f"{what} ids must be distinct: {action_id!r}")
        seen.add(action_id)
        require_iso_date(item["due_date"], f"{action_id} due_date", RULE)
        due = date.fromisoformat(item["due_date"])
        overdue = due < as_of
        if item["overdue"] is not overdue:
            raise InvalidInput(RULE, f"{action_id}: overdue must be {overdue}")
        if not overdue and (due - as_of).days > within:
            raise InvalidInput(RULE, f"{action_id} is not due within {within} days")
    return items


def check_people(
    recipients: object, unreachable: object, agency: str, ctx: RuleContext, *, reviewers: bool
) -> None:
    """Recipients are registered users of this agency, or (where `reviewers`) the
    reviewers of the ladder: a message never goes to another agency's people, nor to an
    administrator; at least one was sent to, and nobody is both sent to and unreachable."""
    for field, people in (("recipients", recipients), ("unreachable", unreachable)):
        if not isinstance(people, list) or len(set(people)) != len(people):
            raise InvalidInput(RULE, f"{field} must be a list of distinct user ids")
        for user_id in people:
            user = ctx.directory.users.get(user_id) if ctx.directory else None
            if user is None:
                raise InvalidInput(RULE, f"{field}: no registered user {user_id!r}")
            own = user.role in AGENCY_ROLES and user.agency == agency
            if not own and not (reviewers and user.role in LADDER):
                raise InvalidInput(
                    RULE, f"{user_id} ({user.role.value}) may not receive this message"
                )
    assert isinstance(recipients, list) and isinstance(unreachable, list)
    if not recipients:
        raise InvalidInput(RULE, "a message that was sent has at least one recipient")
    if set(recipients) & set(unreachable):
        raise InvalidInput(RULE, "a user is either a recipient or unreachable")


def check_message(message_id: object, body_sha256: object) -> None:
    """The record names the message by its Message-ID and its body by SHA-256, never more."""
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        raise InvalidInput(RULE, "message_id must be an RFC 5322 <id@domain>")
    if len(message_id) > 250:
        raise InvalidInput(RULE, "message_id is longer than 250 characters")
    if not isinstance(body_sha256, str) or not SHA256_HEX.fullmatch(body_sha256):
        raise InvalidInput(RULE, "body_sha256 must be 64 lowercase hex digits")


def check_addressed(event: Any, ctx: RuleContext) -> int:
    """What every message's record shares: sent by a sender, to an agency of the plan,
    on that agency's own reminders, as of a date, looking `within_days` ahead (returned)."""
    check_sender(ctx)
    require_identifier(event.agency, "agency", RULE)
    if ctx.plan is None or event.agency not in ctx.plan.agencies:
        raise InvalidInput(RULE, f"no agency {event.agency!r} in the plan")
    if event.originator_id != reminders_aggregate_id(event.agency):
        raise InvalidInput(RULE, f"reminders to {event.agency} belong to their own id")
    require_iso_date(event.as_of, "as_of", RULE)
    within = event.within_days
    if not isinstance(within, int) or isinstance(within, bool):
        raise InvalidInput(RULE, "within_days must be a whole number of days")
    if not 0 <= within <= MAX_WITHIN_DAYS:
        raise InvalidInput(RULE, f"within_days must be 0-{MAX_WITHIN_DAYS}")
    return within


def check_sender(ctx: RuleContext) -> None:
    """Least privilege: only the implementation group and administrators send reminders."""
    require_role(ctx, SENDERS, RULE, "send reminders")


@dataclass(frozen=True)
class DigestRecord:
    """What the log says was sent: enough to answer "who was told what, and when"."""

    sent_at: datetime
    sent_by: str
    as_of: str
    items: tuple[tuple[str, str, int, bool], ...]
    recipients: tuple[str, ...]
    unreachable: tuple[str, ...]
    message_id: str
    body_sha256: str


def digest_content(
    actions: Sequence[dict[str, Any]], key: str = "action_id"
) -> tuple[tuple[str, str, int, bool], ...]:
    """The content that makes two digests "the same" (for not chasing twice in a row):
    the same actions (or actions arising), due on the same dates, at the same levels,
    overdue or not."""
    return tuple(
        sorted(
            (str(a[key]), str(a["due_date"]), int(a["level"]), bool(a["overdue"])) for a in actions
        )
    )


def check_levels(
    items: list[dict[str, Any]], as_of: date, months: tuple[int, ...], key: str
) -> None:
    """Each item's level must follow from its due date and the stated policy, so the
    record can neither overstate nor understate an escalation."""
    for item in items:
        due = date.fromisoformat(item["due_date"])
        level = escalation_level(due, as_of, months) if item["overdue"] else 0
        if item["level"] != level or isinstance(item["level"], bool):
            raise InvalidInput(RULE, f"{item[key]}: escalation level must be {level}")


@dataclass(frozen=True)
class UpdateRequestRecord:
    """A request for narrative updates as the log records it."""

    sent_at: datetime
    sent_by: str
    as_of: str
    updated_since: str
    action_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    message_id: str
    body_sha256: str


class Reminders(Aggregate):
    """The reminders sent to one agency, in the order the mail server accepted them."""

    def __init__(self) -> None:
        self.agency = ""
        self.digests: list[DigestRecord] = []
        self.update_requests: list[UpdateRequestRecord] = []
        self.arising_chases: list[DigestRecord] = []

    class Event(SignedEvent):
        pass

    class DigestSent(Event, Aggregate.Created):
        """A reminder digest was accepted by the mail server for these recipients.

        The same event type both opens an agency's reminders (version 1) and extends them,
        so the log holds one kind of statement per reminder and nothing else."""

        TYPE = "reminder.digest_sent"
        agency: str
        as_of: str
        within_days: int
        escalate_months: list[int]
        actions: list[dict[str, Any]]
        recipients: list[str]
        unreachable: list[str]
        message_id: str
        body_sha256: str

        def check(self, state: Any, ctx: RuleContext) -> None:
            within = check_addressed(self, ctx)
            months = check_escalation_months(self.escalate_months)
            self._check_actions(date.fromisoformat(self.as_of), within, months)
            check_people(self.recipients, self.unreachable, self.agency, ctx, reviewers=True)
            check_message(self.message_id, self.body_sha256)

        def _check_actions(self, as_of: date, within: int, months: tuple[int, ...]) -> None:
            """Each item's level and overdue flag must follow from its due date and the
            stated policy, so the record cannot overstate or understate an escalation."""
            items = check_due_items(self.actions, as_of, within, ITEM_MEMBERS)
            check_levels(items, as_of, months, "action_id")

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                return Aggregate.Created.mutate(self, None)
            return Aggregate.Event.mutate(self, aggregate)

        def apply(self, reminders: Reminders) -> None:
            reminders.agency = self.agency
            reminders.digests.append(
                DigestRecord(
                    sent_at=self.timestamp,
                    sent_by=self.actor,
                    as_of=self.as_of,
                    items=digest_content(self.actions),
                    recipients=tuple(self.recipients),
                    unreachable=tuple(self.unreachable),
                    message_id=self.message_id,
                    body_sha256=self.body_sha256,
                )
            )

    class UpdateRequested(Event, Aggregate.Created):
        """An agency was asked, by a message the mail server accepted, for narrative
        updates (domain/narrative.py) on its actions due within `within_days` of `as_of`
        or overdue that had none signed since `updated_since` (the period's first day).
        To the agency's own people only: asking for an update escalates nothing. Like a
        digest, it names user ids and the body's SHA-256, never addresses or the text.
        It may open an agency's reminders (version 1) as a digest may."""

        TYPE = "reminder.update_requested"
        agency: str
        as_of: str
        within_days: int
        updated_since: str
        actions: list[dict[str, Any]]
        recipients: list[str]
        unreachable: list[str]
        message_id: str
        body_sha256: str

        def check(self, state: Any, ctx: RuleContext) -> None:
            within = check_addressed(self, ctx)
            require_iso_date(self.updated_since, "updated_since", RULE)
            as_of = date.fromisoformat(self.as_of)
            if date.fromisoformat(self.updated_since) > as_of:
                raise InvalidInput(RULE, "updated_since must not be after as_of")
            check_due_items(self.actions, as_of, within, UPDATE_ITEM_MEMBERS)
            check_people(self.recipients, self.unreachable, self.agency, ctx, reviewers=False)
            check_message(self.message_id, self.body_sha256)

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                return Aggregate.Created.mutate(self, None)
            return Aggregate.Event.mutate(self, aggregate)

        def apply(self, reminders: Reminders) -> None:
            reminders.agency = self.agency
            reminders.update_requests.append(
                UpdateRequestRecord(
                    sent_at=self.timestamp,
                    sent_by=self.actor,
                    as_of=self.as_of,
                    updated_since=self.updated_since,
                    action_ids=tuple(sorted(str(a["action_id"]) for a in self.actions)),
                    recipients=tuple(self.recipients),
                    message_id=self.message_id,
                    body_sha256=self.body_sha256,
                )
            )

    class ArisingsChased(Event, Aggregate.Created):
        """The agency's open actions arising (domain/session.py) due soon or overdue were
        chased by a message the mail server accepted, up the same escalation ladder as
        its actions: at each level the same reviewers are told. An action arising owned
        by the agency, or by one of its officers or leads, is chased on the agency's own
        reminders. The record names each one by id with its due date and level, the
        recipients by user id and the body by SHA-256, as a digest does. (A separate kind
        from `reminder.digest_sent`, whose items are actions by definition: readers of
        that record never meet an item they do not know.) It may open an agency's
        reminders (version 1) as a digest may."""

        TYPE = "reminder.arisings_chased"
        agency: str
        as_of: str
        within_days: int
        escalate_months: list[int]
        arisings: list[dict[str, Any]]
        recipients: list[str]
        unreachable: list[str]
        message_id: str
        body_sha256: str

        def check(self, state: Any, ctx: RuleContext) -> None:
            within = check_addressed(self, ctx)
            months = check_escalation_months(self.escalate_months)
            as_of = date.fromisoformat(self.as_of)
            items = check_due_items(
                self.arisings, as_of, within, ARISING_ITEM_MEMBERS, key="arising_id"
            )
            for item in items:  # an id, never free text: the log keeps what it is given
                require_identifier(item["arising_id"], "arising_id", RULE)
                if "." not in item["arising_id"]:
                    raise InvalidInput(RULE, f"{item['arising_id']!r} is not SESSION.N")
            check_levels(items, as_of, months, "arising_id")
            check_people(self.recipients, self.unreachable, self.agency, ctx, reviewers=True)
            check_message(self.message_id, self.body_sha256)

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                return Aggregate.Created.mutate(self, None)
            return Aggregate.Event.mutate(self, aggregate)

        def apply(self, reminders: Reminders) -> None:
            reminders.agency = self.agency
            reminders.arising_chases.append(
                DigestRecord(
                    sent_at=self.timestamp,
                    sent_by=self.actor,
                    as_of=self.as_of,
                    items=digest_content(self.arisings, key="arising_id"),
                    recipients=tuple(self.recipients),
                    unreachable=tuple(self.unreachable),
                    message_id=self.message_id,
                    body_sha256=self.body_sha256,
                )
            )
