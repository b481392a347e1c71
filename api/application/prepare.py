"""What the browser may ask the server to prepare for signing, and which forms to offer.

The browser signs; the server never does. But the exact payload of each event (which
status it moves from, which evidence a sign-off names, at which level a reviewer
returns) is the domain's business, so the page asks the server to *prepare* the body
and then checks and signs it. Bodies are built by `api.application.commands.Client`, the
same code the CLI signs with, through a port that captures the entry instead of appending
it; which verbs there are, what each asks for and which Client call it makes is the one
catalogue in `api.application.verbs`, which the CLI's `act` is built from too.

Which forms a user sees is decided the same way: each command is built with harmless
placeholder inputs and its domain rule is run for the user's registered role and
agency against the action as it stands. A form is offered exactly when the ledger
would accept that kind of event from this user now; there is no second copy of the
rules here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from api.application.commands import Client, CommandError
from api.application.verbs import FILE, LIST, VERBS, Arg, Form, Verb
from domain import Action, Actor, DomainError, InvalidInput, NotPermitted, RuleContext
from domain.roles import AGENCY_ROLES
from ledger.auditor.entry import EventBody, SignedEntry
from ledger.entry import to_domain_event
from ledger.service import Appended, Ledger, next_entry_of
from ledger.signer import Signer
from ledger.timestamps import NextEntry, date_entry

RULE = "web.prepare"
MAX_FIELD = 5000
PLACEHOLDER_KEY = "0" * 16


@dataclass(frozen=True)
class Field:
    """One input of a form (rendered with a label; `kind` picks the control)."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | select | date | file
    required: bool = True
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class WebCommand:
    """A verb of the catalogue (`api.application.verbs`) as the action page offers it."""

    name: str
    label: str
    event_type: str
    fields: tuple[Field, ...]
    probe: Mapping[str, Any]
    verb: Verb
    hint: str = ""

    def build(self, client: Client, action_id: str, inputs: dict[str, Any]) -> Appended:
        """Turn the form's inputs into the verb's arguments, and call it."""
        return self.verb.call(
            client, action_id, {a.name: _value(inputs, a) for a in self.verb.args}
        )


def text_input(inputs: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """A form's text input, stripped: refused if it is not text, missing where required,
    or longer than MAX_FIELD (every /web/prepare form's inputs are read with it)."""
    value = inputs.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput(RULE, f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(RULE, f"{name} is required")
    if len(value) > MAX_FIELD:
        raise InvalidInput(RULE, f"{name} is longer than {MAX_FIELD} characters")
    return value


def _lines(inputs: dict[str, Any], name: str) -> list[str]:
    return [line.strip() for line in text_input(inputs, name).splitlines() if line.strip()]


def _blob(inputs: dict[str, Any]) -> dict[str, Any]:
    """The record of a blob the browser uploaded before asking (POST /v1/evidence)."""
    size = inputs.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        raise InvalidInput(RULE, "size must be an integer")
    return {
        "sha256": text_input(inputs, "sha256"),
        "size": size,
        "media_type": text_input(inputs, "media_type"),
        "original_name": text_input(inputs, "original_name")[:500],
        "storage_key": text_input(inputs, "storage_key"),
    }


def _value(inputs: dict[str, Any], arg: Arg) -> Any:
    if arg.kind == FILE:
        return _blob(inputs)
    if arg.kind == LIST:
        return _lines(inputs, arg.name)
    return text_input(inputs, arg.name, required=arg.required)


def _command(verb: Verb, form: Form) -> WebCommand:
    fields = tuple(Field(a.name, a.label, a.control, a.required, a.choices) for a in verb.args)
    return WebCommand(
        verb.web_name, form.label, verb.event_type, fields, form.probe, verb, form.hint
    )


def _forms() -> list[tuple[Verb, Form]]:
    return sorted(
        ((v, v.form) for v in VERBS if v.form is not None), key=lambda pair: pair[1].order
    )


#: The commands the action page may offer, in its order, by their web names.
COMMANDS: dict[str, WebCommand] = {v.web_name: _command(v, form) for v, form in _forms()}


@dataclass
class Capture:
    """A `LedgerPort` that reads from the ledger and keeps, instead of appending, what a
    client would append. Reads are cached: probing every form reads the action once.
    The challenge and session pages prepare through it too (prepare_holding.py)."""

    ledger: Ledger
    entries: list[SignedEntry] = field(default_factory=list)
    _actions: dict[str, Action | None] = field(default_factory=dict)
    _context: RuleContext | None = None

    def next_entry(self, aggregate_id: UUID) -> NextEntry:
        for action in self._actions.values():
            if action is not None and action.id == aggregate_id:
                return next_entry_of(action, self.ledger.witnessed)
        return self.ledger.next_entry(aggregate_id)

    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]:
        self.entries.extend(entries)
        return [Appended(-1, -1, e.body.type, e.body.aggregate_id, e.body.version) for e in entries]

    def role_of(self, user_id: str) -> Any:
        return self.ledger.role_of(user_id)

    def action(self, action_id: str) -> Action | None:
        if action_id not in self._actions:
            self._actions[action_id] = self.ledger.action(action_id)
        return self._actions[action_id]

    def context(self, who: Actor) -> RuleContext:
        if self._context is None:
            self._context = RuleContext(who, self.ledger.directory(), self.ledger.plan())
        return self._context


@dataclass
class Unsigned:
    """Stands in for `Signer`: builds the body the browser will sign, signs nothing."""

    user_id: str
    key_id: str
    moment: datetime
    origin: str

    def sign(
        self,
        type_name: str,
        aggregate_id: UUID,
        version: int,
        payload: dict[str, Any],
        *,
        not_before: datetime | None = None,
    ) -> SignedEntry:
        """Dated as `Signer` dates: max(the moment, the aggregate's floor), so a page
        prepares a body the ledger accepts even after a future-dated predecessor."""
        body = EventBody(
            type_name,
            aggregate_id,
            version,
            date_entry(self.moment, not_before),
            self.user_id,
            self.key_id,
            payload,
            self.origin,
        )
        return SignedEntry(body, bytes(64))


def _build(
    port: Capture, who: Actor, key_id: str, moment: datetime, action_id: str, command: WebCommand
) -> Callable[[dict[str, Any]], EventBody]:
    def build(inputs: dict[str, Any]) -> EventBody:
        port.entries.clear()
        signer = cast(Signer, Unsigned(who.user_id, key_id, moment, port.ledger.origin()))
        command.build(Client(port, signer), action_id, inputs)
        return port.entries[0].body

    return build


def _check(port: Capture, who: Actor, action_id: str, body: EventBody) -> None:
    """The domain's own rule for this event, this user and the action as it stands."""
    event = to_domain_event(SignedEntry(body, bytes(64)))
    event.check(port.action(action_id), port.context(who))


#: Commands an agency's own people are never offered on the pages, though the domain
#: accepts the entry from them: a comment of kind "challenge" asks the agency to answer,
#: and an agency does not challenge its own action (issue 15; `action.comment_added`
#: keeps accepting it so that logs which hold such entries still replay). Challenges
#: proper are raised by the overseers (domain/challenge.py: `challenge.raised`).
NOT_FOR_AGENCIES = frozenset({"challenge"})


def _refuse_for_agencies(who: Actor, command: WebCommand) -> None:
    if command.name in NOT_FOR_AGENCIES and who.role in AGENCY_ROLES:
        raise NotPermitted(
            RULE,
            f"{who.describe()} may not challenge an action: challenges go to the agency "
            "that leads it, from scrutiny, the implementation group or the chair",
        )


def offered(ledger: Ledger, who: Actor, action_id: str) -> list[WebCommand]:
    """The commands this user may use on this action now (by the domain's rules)."""
    port = Capture(ledger)
    if port.action(action_id) is None:
        return []
    moment = ledger.clock()
    found = []
    for command in COMMANDS.values():
        try:
            _refuse_for_agencies(who, command)
            body = _build(port, who, PLACEHOLDER_KEY, moment, action_id, command)(
                dict(command.probe)
            )
            _check(port, who, action_id, body)
        except (DomainError, CommandError):
            continue
        found.append(command)
    return found


def prepare(
    ledger: Ledger, who: Actor, key_id: str, action_id: str, name: str, inputs: dict[str, Any]
) -> EventBody:
    """The exact body for the browser to sign. Refuses (DomainError) what the ledger would
    refuse, so a user is told before signing, not after; the ledger checks again."""
    command = COMMANDS.get(name)
    if command is None:
        raise InvalidInput(RULE, f"unknown command {name!r}")
    _refuse_for_agencies(who, command)
    ledger.require_directory().resolve(who.user_id, key_id)  # an active key of this user
    port = Capture(ledger)
    if port.action(action_id) is None:
        raise CommandError(f"no action {action_id} in the plan")
    body = _build(port, who, key_id, ledger.clock(), action_id, command)(inputs)
    _check(port, who, action_id, body)
    return body
