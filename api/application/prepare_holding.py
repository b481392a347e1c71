"""What the challenge and session pages may ask the server to prepare for signing, and
which of their forms to offer (issue 15: holding to account from the browser).

As on the action page (`api.application.prepare`): the browser signs, the server never
does. The exact body of each entry is built by the code the CLI signs with, through a
port that captures the entry instead of appending it: `Client.raise_challenge`,
`answer_challenge`, `close_challenge`, `escalate_challenge` (api/cli/challenge.py), and
`api.application.minutes.approve`, `record_arising`, `close_arising` (api/cli/session.py).
A form is offered exactly when the domain's own rule (domain/challenge.py,
domain/session.py) accepts its placeholder inputs from this user now; there is no second
copy of the rules here. Reading rules (whose challenges, which sessions) are the web
layer's, as they are for actions.

Recording a session (`session hold`) is not offered: it takes the body, the window, the
chair, every attendee and the recommendations covered, and is signed on the secretary's
own machine.

The minutes are hashed by the caller's `digest` (projections/minutes_render.py's
`minutes_sha256`): this layer renders nothing, as `api.application.minutes` says.

Longer than 500 lines because it is one catalogue: each of the seven commands' build,
probe and fields sit together, beside the rule they are offered by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast
from uuid import UUID

from api.application.commands import Client, CommandError
from api.application.minutes import approve, close_arising, owner_from, record_arising
from api.application.prepare import PLACEHOLDER_KEY, Capture, Unsigned, text_input
from domain import Actor, DomainError, InvalidInput, RuleContext
from domain.challenge import BODIES, OUTCOMES, Challenge, subject_kind
from domain.ids import challenge_aggregate_id
from domain.session import Session, session_aggregate_id
from ledger.auditor.entry import EventBody, SignedEntry
from ledger.entry import to_domain_event
from ledger.service import Ledger
from ledger.signer import Signer
from projections.challenges import next_challenge_id
from projections.minutes import Minutes

CHALLENGE, SESSION = "challenge", "session"
RULE = "web.prepare"

#: The minutes' SHA-256, as the caller renders them.
Digest = Callable[[Minutes], str]
Choice = tuple[str, str]  # (value, what the page shows)


@dataclass(frozen=True)
class HoldingField:
    """One input of a form. `kind`: text | textarea | select | date | checkboxes | hidden."""

    name: str
    label: str
    kind: str = "text"
    required: bool = True
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    value: str = ""


@dataclass(frozen=True)
class Scene:
    """What a command is built against: the ledger, the challenge or session named (its
    id; "" when raising), its state, and the minutes' digest. `probing`: only asking
    whether the rule would accept it (`offered`), so nothing needs the log read for it."""

    ledger: Ledger
    subject: str
    state: Any
    digest: Digest | None = None
    probing: bool = False


#: Builds the command's entry through `client` (captured, not appended).
Build = Callable[[Client, Scene, dict[str, Any]], Any]
#: The placeholder inputs that ask the rule whether to offer it (None: nothing to offer),
#: and the form's fields with their choices for this scene.
Probe = Callable[[Scene], Mapping[str, Any] | None]
Fields = Callable[[Scene], tuple[HoldingField, ...]]


@dataclass(frozen=True)
class HoldingCommand:
    name: str
    kind: str  # CHALLENGE | SESSION
    label: str
    event_type: str
    build: Build
    probe: Probe
    fields: Fields
    hint: str = ""


@dataclass(frozen=True)
class Offer:
    """A command as this page offers it: its fields, with the choices the rule allows."""

    name: str
    label: str
    event_type: str
    hint: str
    fields: tuple[HoldingField, ...]


def _lines(inputs: Mapping[str, Any], name: str) -> list[str]:
    text = text_input(inputs, name, required=False)
    return [line.strip() for line in text.splitlines() if line.strip()]


# -- challenges (domain/challenge.py) -----------------------------------------------------


def addressed_agency(ledger: Ledger, subject: str) -> str:
    """The agency a challenge is addressed to when none is chosen: the action's lead, or
    the recommendation's only lead agency (as `challenge raise` does)."""
    kind = subject_kind(subject)
    if kind == "action":
        action = ledger.action(subject)
        if action is None:
            raise CommandError(f"no action {subject} in the plan")
        return str(action.lead_agency)
    if kind != "recommendation":
        raise InvalidInput(
            RULE, f"challenge an action (R10.1) or a recommendation (R10): {subject!r}"
        )
    plan = ledger.plan()
    recommendation: Any = None if plan is None else plan.recommendations.get(int(subject[1:]))
    if recommendation is None:
        raise CommandError(f"no recommendation {subject[1:]} in the plan")
    leads = list(recommendation.lead_agencies)
    if len(leads) != 1:
        raise InvalidInput(
            RULE,
            f"recommendation {subject[1:]} is led by {', '.join(leads) or 'no agency'}: "
            "choose the agency you are asking",
        )
    return str(leads[0])


#: The id a probe of raising uses: the highest a challenge id may be (domain/challenge.py).
PROBE_CHALLENGE = "C999999999"


def _raise(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    subject = text_input(inputs, "subject").upper()
    agency = text_input(inputs, "agency", required=False) or addressed_agency(scene.ledger, subject)
    # Probing, any id no challenge has will do: picking the next one reads the whole log,
    # which every challenges page would pay for each viewer who may raise.
    challenge_id = PROBE_CHALLENGE if scene.probing else next_challenge_id(scene.ledger.entries(0))
    return client.raise_challenge(challenge_id, subject, agency, text_input(inputs, "text"))


def _raise_probe(scene: Scene) -> Mapping[str, Any] | None:
    """A recommendation of the plan, addressed to one of its lead agencies."""
    plan = scene.ledger.plan()
    for number, recommendation in sorted((plan.recommendations if plan else {}).items()):
        leads = list(getattr(recommendation, "lead_agencies", []))
        if leads and not getattr(recommendation, "removed", False):
            return {"subject": f"R{number}", "agency": leads[0], "text": "probe"}
    return None


def _raise_fields(scene: Scene) -> tuple[HoldingField, ...]:
    plan = scene.ledger.plan()
    agencies = sorted((plan.agencies if plan else {}).items())
    return (
        HoldingField(
            "subject",
            "Action or recommendation challenged",
            hint="An action's id (R10.1) or a recommendation (R10).",
            value=scene.subject,
        ),
        HoldingField(
            "agency",
            "Agency asked to answer",
            "select",
            required=False,
            choices=(("", "The agency that leads it"), *((a, name) for a, name in agencies)),
            hint="Never the agency's own people: a challenge is put to an agency that leads "
            "what is challenged.",
        ),
        HoldingField("text", "The question the agency must answer", "textarea"),
    )


def _answer(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    return client.answer_challenge(
        scene.subject, text_input(inputs, "text"), _lines(inputs, "evidence")
    )


def _answer_fields(scene: Scene) -> tuple[HoldingField, ...]:
    text = HoldingField("text", "Your agency's answer", "textarea")
    state = cast(Challenge, scene.state)
    if subject_kind(state.subject) != "action":
        return (text,)
    action = scene.ledger.action(state.subject)
    # Only the addressed agency's people answer; they read the action's evidence (names
    # included) only while their agency leads it (not once it was transferred away).
    if action is None or action.lead_agency != state.agency:
        return (text,)
    files = [action.evidence[sha] for sha in action.current_evidence()]
    if not files:
        return (text,)
    choices = tuple((f.sha256, f"{f.original_name} ({f.sha256[:12]}…)") for f in files)
    cited = HoldingField(
        "evidence",
        f"Evidence of {state.subject} cited (optional)",
        "checkboxes",
        required=False,
        choices=choices,
    )
    return (text, cited)


def _close(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    return client.close_challenge(
        scene.subject, text_input(inputs, "outcome"), text_input(inputs, "reason")
    )


def _escalate(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    return client.escalate_challenge(
        scene.subject, text_input(inputs, "to"), text_input(inputs, "reason")
    )


def _choices(values: tuple[str, ...]) -> tuple[Choice, ...]:
    return tuple((v, v.replace("_", " ").capitalize()) for v in values)


REASON = HoldingField("reason", "Reason", "textarea")


def _fixed(*fields: HoldingField) -> Fields:
    return lambda _scene: fields


def _always(probe: Mapping[str, Any]) -> Probe:
    return lambda _scene: probe


# -- sessions (domain/session.py) ------------------------------------------------------------


def _approve(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    if scene.digest is None:
        raise CommandError("the minutes cannot be hashed here")
    expected = text_input(inputs, "minutes_sha256", required=False) or None
    return approve(scene.ledger, client, scene.subject, scene.digest, expected)[2]


def _number(text: str, name: str) -> int:
    if not text.isdigit() or len(text) > 6:
        raise InvalidInput(RULE, f"{name} must be a number, not {text[:20]!r}")
    return int(text)


def _arising_add(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    return record_arising(
        scene.ledger,
        client,
        scene.subject,
        recommendation=_number(text_input(inputs, "recommendation"), "recommendation"),
        owner=owner_from(text_input(inputs, "owner")),
        due_date=text_input(inputs, "due_date"),
        done_means=text_input(inputs, "done_means"),
        text=text_input(inputs, "text"),
    )[1]


def _arising_add_probe(scene: Scene) -> Mapping[str, Any] | None:
    state = cast(Session, scene.state)
    plan = scene.ledger.plan()
    agencies = sorted(plan.agencies) if plan else []
    if not state.recommendations or not agencies:
        return None
    return {
        "recommendation": str(state.recommendations[0]),
        "owner": f"agency:{agencies[0]}",
        "due_date": "2000-01-01",
        "done_means": "probe",
        "text": "probe",
    }


def _arising_add_fields(scene: Scene) -> tuple[HoldingField, ...]:
    state = cast(Session, scene.state)
    plan = scene.ledger.plan()
    agencies = sorted((plan.agencies if plan else {}).items())
    directory = scene.ledger.directory()
    users = sorted(u for u, user in (directory.users if directory else {}).items() if user.active)
    owners = (
        *((f"agency:{a}", f"{name} (agency)") for a, name in agencies),
        *((f"user:{u}", f"{u} (user)") for u in users),
    )
    return (
        HoldingField(
            "recommendation",
            "Recommendation",
            "select",
            choices=tuple((str(n), f"Recommendation {n}") for n in state.recommendations),
        ),
        HoldingField("owner", "Owner", "select", choices=owners),
        HoldingField("due_date", "Due", "date"),
        HoldingField("done_means", 'What "done" means', "textarea"),
        HoldingField("text", "The action", "textarea"),
    )


def _open_arisings(scene: Scene) -> list[Any]:
    state = cast(Session, scene.state)
    return [a for a in state.arisings.values() if a.open]


def _arising_close(client: Client, scene: Scene, inputs: dict[str, Any]) -> Any:
    arising_id = text_input(inputs, "arising_id")
    state = cast(Session, scene.state)
    if arising_id not in state.arisings:
        raise InvalidInput(RULE, f"{arising_id[:80]!r} is not an action arising of {scene.subject}")
    evidence = text_input(inputs, "evidence", required=False) or None
    return close_arising(scene.ledger, client, arising_id, text_input(inputs, "reason"), evidence)


def _arising_close_probe(scene: Scene) -> Mapping[str, Any] | None:
    found = _open_arisings(scene)
    if not found:
        return None
    return {"arising_id": found[0].arising_id, "reason": "probe", "evidence": ""}


def _arising_close_fields(scene: Scene) -> tuple[HoldingField, ...]:
    choices = tuple((a.arising_id, f"{a.arising_id}: {a.text[:80]}") for a in _open_arisings(scene))
    return (
        HoldingField("arising_id", "Action arising", "select", choices=choices),
        REASON,
        HoldingField(
            "evidence",
            "Where the evidence is (optional)",
            required=False,
            hint="A hash, a document or a later entry.",
        ),
    )


COMMANDS: dict[tuple[str, str], HoldingCommand] = {
    (c.kind, c.name): c
    for c in (
        HoldingCommand(
            "raise",
            CHALLENGE,
            "Raise a challenge",
            Challenge.Raised.TYPE,
            _raise,
            _raise_probe,
            _raise_fields,
        ),
        HoldingCommand(
            "answer",
            CHALLENGE,
            "Answer the challenge",
            Challenge.Answered.TYPE,
            _answer,
            _always({"text": "probe", "evidence": ""}),
            _answer_fields,
        ),
        HoldingCommand(
            "close",
            CHALLENGE,
            "Close the challenge",
            Challenge.Closed.TYPE,
            _close,
            _always({"outcome": OUTCOMES[0], "reason": "probe"}),
            _fixed(
                HoldingField("outcome", "Are you satisfied?", "select", choices=_choices(OUTCOMES)),
                REASON,
            ),
            "Closing is final: to ask for more, escalate instead.",
        ),
        HoldingCommand(
            "escalate",
            CHALLENGE,
            "Escalate the challenge",
            Challenge.Escalated.TYPE,
            _escalate,
            _always({"to": BODIES[0], "reason": "probe"}),
            _fixed(HoldingField("to", "Escalate to", "select", choices=_choices(BODIES)), REASON),
        ),
        HoldingCommand(
            "approve",
            SESSION,
            "Approve the minutes",
            Session.MinutesApproved.TYPE,
            _approve,
            _always({"minutes_sha256": ""}),
            _fixed(),  # the page adds the hash it shows (a hidden field)
            "You sign the SHA-256 of the minutes as shown above and the log positions they "
            "were built from; if anything was signed since, the page refuses and you read "
            "them again.",
        ),
        HoldingCommand(
            "arising_add",
            SESSION,
            "Record an action arising",
            Session.ArisingRecorded.TYPE,
            _arising_add,
            _arising_add_probe,
            _arising_add_fields,
        ),
        HoldingCommand(
            "arising_close",
            SESSION,
            "Close an action arising",
            Session.ArisingClosed.TYPE,
            _arising_close,
            _arising_close_probe,
            _arising_close_fields,
        ),
    )
}


def aggregate_of(kind: str, subject: str) -> UUID:
    return challenge_aggregate_id(subject) if kind == CHALLENGE else session_aggregate_id(subject)


def scene_of(ledger: Ledger, kind: str, subject: str, digest: Digest | None = None) -> Scene:
    """The challenge or session named, as it stands (CommandError if there is none); for
    raising a challenge (`subject` "", or the subject the page suggests) no state."""
    if kind == CHALLENGE and not subject.startswith("C"):
        return Scene(ledger, subject, None, digest)
    state = ledger.get(aggregate_of(kind, subject)) if len(subject) <= 64 else None
    wanted = Challenge if kind == CHALLENGE else Session
    if not isinstance(state, wanted):
        raise CommandError(f"there is no {kind} {subject[:64]}")
    return Scene(ledger, subject, state, digest)


def _body(
    scene: Scene, who: Actor, key_id: str, command: HoldingCommand, inputs: dict[str, Any]
) -> EventBody:
    ledger = scene.ledger
    port = Capture(ledger)
    signer = cast(Signer, Unsigned(who.user_id, key_id, ledger.clock(), ledger.origin()))
    command.build(Client(port, signer), scene, inputs)
    if not port.entries:
        raise CommandError("nothing to sign")
    body = port.entries[0].body
    event = to_domain_event(SignedEntry(body, bytes(64)))
    ctx = RuleContext(who, ledger.directory(), ledger.plan(), action=ledger.action)
    event.check(ledger.get(body.aggregate_id), ctx)
    return body


def offered(
    ledger: Ledger, who: Actor, kind: str, subject: str = "", digest: Digest | None = None
) -> list[Offer]:
    """The forms this user may use on this challenge or session now (by the domain's
    rules), each with the choices of its selects that the rule accepts."""
    try:
        scene = replace(scene_of(ledger, kind, subject, digest), probing=True)
    except CommandError:
        return []
    found = []
    for (of, _), command in COMMANDS.items():
        if of != kind or (command.name == "raise") != (scene.state is None):
            continue
        probe = command.probe(scene)
        if probe is None:
            continue
        asked = dict(probe)
        try:
            fields = tuple(_allowed(scene, who, command, asked, f) for f in command.fields(scene))
            _body(scene, who, PLACEHOLDER_KEY, command, asked)
        except (DomainError, CommandError):
            continue
        found.append(Offer(command.name, command.label, command.event_type, command.hint, fields))
    return found


def _allowed(
    scene: Scene, who: Actor, command: HoldingCommand, probe: dict[str, Any], field: HoldingField
) -> HoldingField:
    """A select whose every choice is a different entry (escalate to which body) keeps
    only the choices the rule accepts; the others are shown as they are."""
    if command.name != "escalate" or field.name != "to":
        return field
    kept = []
    for value, label in field.choices:
        try:
            _body(scene, who, PLACEHOLDER_KEY, command, {**probe, "to": value})
        except (DomainError, CommandError):
            continue
        kept.append((value, label))
    if not kept:
        raise InvalidInput(RULE, "no body to escalate to")
    probe["to"] = kept[0][0]  # the probe asks of a body it may be escalated to
    return replace(field, choices=tuple(kept))


def prepare(
    ledger: Ledger,
    who: Actor,
    key_id: str,
    kind: str,
    subject: str,
    name: str,
    inputs: dict[str, Any],
    digest: Digest | None = None,
) -> EventBody:
    """The exact body for the browser to sign. Refuses (DomainError) what the ledger would
    refuse, so a user is told before signing, not after; the ledger checks again."""
    command = COMMANDS.get((kind, name))
    if command is None:
        raise InvalidInput(RULE, f"unknown command {name[:40]!r}")
    ledger.require_directory().resolve(who.user_id, key_id)  # an active key of this user
    scene = scene_of(ledger, kind, "" if name == "raise" else subject, digest)
    if (name == "raise") != (scene.state is None):
        raise InvalidInput(RULE, f"{name} is not done to {kind} {subject[:64]}")
    return _body(scene, who, key_id, command, inputs)
