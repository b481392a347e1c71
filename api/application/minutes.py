"""Sessions, their minutes and actions arising: what the CLI and the HTTP routes build.

The signed entries are the ledger's (domain/session.py); what the domain rule cannot
see, the log itself, is checked here: the chair's approval names the SHA-256 of the
minutes rebuilt from the log at signing time and the leaf indices they came from, and is
refused when the hash the chair read (`expected_sha256`) is not that hash. The minutes
are built by projections/minutes.py and read the local ledger (its whole log); they
are hashed by the caller's `digest` (rendering is not this layer's: it imports no
template engine).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.application.commands import Client
from domain.errors import InvalidInput, InvalidTransition
from domain.session import Session, session_aggregate_id
from ledger.service import Appended, Ledger
from projections.minutes import Minutes, build_minutes

ATTENDEE = re.compile(r"(?P<role>[^:=]+)(?::(?P<agency>[^=]+))?=(?P<label>.+)")
RULE = "session.approve_minutes"


@dataclass(frozen=True)
class Hold:
    session_id: str
    body: str
    date: str
    started_at: str
    ended_at: str
    chair: str
    attendees: list[dict[str, Any]]
    recommendations: list[int]


def parse_attendee(text: str) -> dict[str, Any]:
    """ROLE[:AGENCY]=LABEL, e.g. "Police and Crime Commissioner=PCC" or
    "Temporary Deputy Chief Constable:police=T/DCC"."""
    match = ATTENDEE.fullmatch(text.strip())
    if match is None:
        raise InvalidInput("session.hold", f"an attendee is ROLE[:AGENCY]=LABEL, not {text!r}")
    attendee: dict[str, Any] = {"role": match["role"].strip(), "label": match["label"].strip()}
    if match["agency"]:
        attendee["agency"] = match["agency"].strip()
    return attendee


def hold(client: Client, session: Hold) -> Appended:
    payload = {
        "session_id": session.session_id,
        "body": session.body,
        "date": session.date,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "chair": session.chair,
        "attendees": session.attendees,
        "recommendations": session.recommendations,
    }
    return client.submit("session.held", session_aggregate_id(session.session_id), payload)


def session_state(ledger: Ledger, session_id: str) -> Session:
    state = ledger.get(session_aggregate_id(session_id))
    if not isinstance(state, Session):
        raise InvalidInput("session.exists", f"no session {session_id!r} in the log")
    return state


def minutes_of(ledger: Ledger, session_id: str) -> Minutes:
    """The session's minutes as the log stands (cut at their approval, once approved)."""
    session_state(ledger, session_id)
    return build_minutes(ledger.entries(), session_id)


def approve(
    ledger: Ledger,
    client: Client,
    session_id: str,
    digest: Callable[[Minutes], str],
    expected_sha256: str | None = None,
) -> tuple[Minutes, str, Appended]:
    """Sign the approval of the minutes as rebuilt now, hashed by `digest`
    (projections/minutes_render.py's `minutes_sha256`: this layer renders nothing);
    refused if the chair read other minutes (`expected_sha256`, the hash `session
    minutes` showed) or they are approved already. Returns the minutes, their hash and
    the appended approval."""
    state = session_state(ledger, session_id)
    if state.approval is not None:
        raise InvalidTransition(RULE, f"the minutes of {session_id} are already approved")
    minutes = minutes_of(ledger, session_id)
    sha = digest(minutes)
    if expected_sha256 is not None and expected_sha256.strip().lower() != sha:
        raise InvalidInput(
            RULE,
            f"the minutes of {session_id} as rebuilt now have SHA-256 {sha}, not "
            f"{expected_sha256}: entries were signed since they were read; read them again",
        )
    payload = {"minutes_sha256": sha, "entries": minutes.entries}
    appended = client.submit("session.minutes_approved", session_aggregate_id(session_id), payload)
    return minutes, sha, appended


def record_arising(
    ledger: Ledger,
    client: Client,
    session_id: str,
    *,
    recommendation: int,
    owner: dict[str, str],
    due_date: str,
    done_means: str,
    text: str,
) -> tuple[str, Appended]:
    """Record an action arising of the session, numbered after its others (ID.N)."""
    state = session_state(ledger, session_id)
    arising_id = f"{session_id}.{len(state.arisings) + 1}"
    payload = {
        "arising_id": arising_id,
        "session_id": session_id,
        "recommendation": recommendation,
        "owner": owner,
        "due_date": due_date,
        "done_means": done_means,
        "text": text,
    }
    return arising_id, client.submit("arising.recorded", session_aggregate_id(session_id), payload)


def close_arising(
    ledger: Ledger, client: Client, arising_id: str, reason: str, evidence: str | None
) -> Appended:
    session_id = session_of(arising_id)
    session_state(ledger, session_id)
    payload = {"arising_id": arising_id, "reason": reason, "evidence": evidence}
    return client.submit("arising.closed", session_aggregate_id(session_id), payload)


def session_of(arising_id: str) -> str:
    """An action arising's session: its id less the last ".N"."""
    session_id, dot, number = arising_id.rpartition(".")
    if not dot or not number.isdigit():
        raise InvalidInput("arising.close", f"an action arising is SESSION.N, not {arising_id!r}")
    return session_id


def owner_from(text: str) -> dict[str, str]:
    """`--owner police` (an agency of the plan) or `--owner user:ID`."""
    if text.startswith("user:"):
        return {"user": text.removeprefix("user:")}
    if text.startswith("agency:"):
        text = text.removeprefix("agency:")
    return {"agency": text}
