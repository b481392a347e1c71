"""Random but valid histories for the as-of tests: every kind of decision, including
corrections (amendments, evidence withdrawn and erased), returns, sign-off revocations,
chair outcomes and reopenings, merges and withdrawals, formal responses (to actions and
to recommendations) and changes of the response vocabulary.

A step names an operation, an action and how far the clock moves first; the ledger
refuses what its rules forbid (that step is simply skipped), so any sequence of steps
is a valid history, and shrinking (hypothesis) keeps it valid.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain import DomainError, Status
from domain.response import DEFAULT_TERMS
from ledger.errors import LedgerError
from tests.support.world import World

ACTIONS = ("R1.1", "R1.2", "R2.1", "R1.3", "R2.2")
LEADS = {"R1.1": "council", "R1.2": "police", "R2.1": "police", "R1.3": "council", "R2.2": "police"}

OPERATIONS = (
    "start",
    "attach",
    "withdraw_evidence",
    "erase_evidence",
    "submit",
    "sign_agency",
    "sign_group",
    "sign_chair",
    "revoke_agency",
    "revoke_group",
    "revoke_chair",
    "return_lead",
    "return_group",
    "return_chair",
    "rate_agency",
    "rate_review",
    "comment",
    "challenge",
    "amend",
    "move_agency",
    "merge",
    "withdraw",
    "not_implementable",
    "reopen",
    "block",
    "unblock",
    "assign",
    "respond",
    "respond_plan",
    "vocabulary",
)
#: The response vocabulary "vocabulary" swaps the default one for, and back.
OTHER_TERMS = [
    {"id": "adopted", "label": "Adopted"},
    {"id": "not_adopted_as_proposed", "label": "Not adopted as proposed"},
]


#: What a random step picks from: the lifecycle's steps weigh more than the decisions
#: that close an action for good, so that histories get somewhere before they end.
SCHEDULE = OPERATIONS + (
    ("start", "attach", "submit", "sign_agency", "sign_group", "sign_chair", "attach") * 8
    + ("revoke_agency", "revoke_group", "revoke_chair", "return_group", "reopen") * 3
)


def add_actions(world: World) -> None:
    for action_id in ACTIONS:
        world.add_action(action_id, lead=LEADS[action_id])


def apply(world: World, operation: str, action_id: str, counter: int) -> bool:
    """Try one operation; True if the ledger accepted it, False if a rule refused it."""
    try:
        _apply(world, operation, action_id, counter)
    except (DomainError, LedgerError):
        return False
    return True


def run(world: World, steps: list[tuple[int, int, int]], *, tries: int = 6) -> int:
    """Apply (SCHEDULE index, action index, hours to advance) steps; return how many
    were accepted. A refused operation is followed by the next ones in OPERATIONS (up
    to `tries` in all), so most steps do something and histories get somewhere."""
    accepted = 0
    for n, (op, action, hours) in enumerate(steps):
        world.clock.advance(hours=hours)
        action_id = ACTIONS[action % len(ACTIONS)]
        first = OPERATIONS.index(SCHEDULE[op % len(SCHEDULE)])
        for k in range(tries):
            if apply(world, OPERATIONS[(first + k) % len(OPERATIONS)], action_id, n):
                accepted += 1
                break
    return accepted


def _apply(world: World, operation: str, action_id: str, n: int) -> None:
    current: Any = world.ledger.action(action_id)
    agency = current.lead_agency
    officer, lead = f"{agency}.officer", f"{agency}.lead"
    evidence = current.current_evidence()
    match operation:
        case "start":
            world.client(officer).change_status(action_id, Status.IN_PROGRESS)
        case "attach":
            world.evidence(action_id, f"evidence {n} for {action_id}".encode(), by=officer)
        case "withdraw_evidence" if evidence:
            world.client(officer).withdraw_evidence(action_id, evidence[0], f"superseded {n}")
        case "erase_evidence" if current.evidence:
            sha = sorted(current.evidence)[n % len(current.evidence)]
            world.client("admin").erase_evidence(action_id, sha, f"lawful reason {n}")
        case "submit":
            world.client(officer).change_status(action_id, Status.EVIDENCE_SUBMITTED)
        case "sign_agency":
            world.client(lead).sign_off(action_id, f"complete ({n})")
        case "sign_group":
            world.client("sig").sign_off(action_id, f"accepted ({n})")
        case "sign_chair":
            world.client("chair").sign_off(action_id, f"verified ({n})")
        case "revoke_agency":
            world.client(lead).revoke_sign_off(action_id, f"premature ({n})")
        case "revoke_group":
            world.client("sig").revoke_sign_off(action_id, f"reconsidered ({n})")
        case "revoke_chair":
            world.client("chair").revoke_sign_off(action_id, f"new information ({n})")
        case "return_lead":
            world.client(lead).return_action(action_id, [f"not yet ({n})"])
        case "return_group":
            world.client("sig").return_action(action_id, [f"minutes missing ({n})", "second"])
        case "return_chair":
            world.client("chair").return_action(action_id, [f"no evidence of impact ({n})"])
        case "rate_agency":
            world.client(lead).rate(action_id, ("red", "amber", "green")[n % 3], f"why {n}")
        case "rate_review":
            world.client("sig").rate(action_id, ("green", "red", "amber")[n % 3], f"why {n}")
        case "comment":
            world.client(officer).comment(action_id, f"progress note {n}")
        case "challenge":
            world.client("chair").comment(action_id, f"please explain {n}", challenge=True)
        case "amend":
            changes = {"title": f"Amended title {n}", "due_date": f"2023-{1 + n % 12:02d}-15"}
            world.client("sig").amend(action_id, changes, f"plan revised ({n})")
        case "move_agency":
            other = "police" if agency == "council" else "council"
            world.client("sig").amend(action_id, {"lead_agency": other}, f"moved ({n})")
        case "merge":
            into = ACTIONS[(ACTIONS.index(action_id) + 1) % len(ACTIONS)]
            world.client("sig").merge(action_id, into, f"duplicate ({n})")
        case "withdraw":
            world.client("sig").withdraw(action_id, f"no longer needed ({n})")
        case "not_implementable":
            world.client("chair").change_status(
                action_id, Status.NOT_IMPLEMENTABLE, f"outside local powers ({n})"
            )
        case "reopen":
            world.client("chair").change_status(action_id, Status.IN_PROGRESS, f"reopened {n}")
        case "block":
            world.client(officer).change_status(action_id, Status.BLOCKED, f"waiting ({n})")
        case "unblock":
            world.client(officer).change_status(action_id, Status.IN_PROGRESS, f"unblocked {n}")
        case "assign":
            world.client(lead).assign(action_id, officer)
        case "respond" | "respond_plan":
            plan: Any = world.ledger.plan()
            terms = plan.response_terms
            fields = {
                "response": terms[n % len(terms)].id,
                "responded_on": world.clock.now.date().isoformat(),
                "responder": ("Council", "Police", "Home Office")[n % 3],
                "reasons": f"response {n}",
                "source": "" if n % 2 else f"report {n}",
            }
            if operation == "respond":
                world.client(lead).respond_to_action(action_id, **fields)
            else:
                world.client("sig").respond(current.recommendation, **fields)
        case "vocabulary":
            plan = world.ledger.plan()
            default = [(t.id, t.label) for t in DEFAULT_TERMS]
            other = [(t["id"], t["label"]) for t in OTHER_TERMS]
            chosen = default if plan.response_terms[0].id == "adopted" else other
            world.client("sig").set_response_vocabulary(chosen)
        case _:
            raise DomainError("test.no_op", f"{operation} does not apply")


def entry_times(world: World) -> list[Any]:
    """Every entry's signed timestamp, in log order (for time cuts)."""
    from ledger.auditor.entry import SignedEntry

    return [SignedEntry.from_entry_bytes(data).body.timestamp for _, data in world.ledger.entries()]


def cuts_in_time(world: World) -> list[Any]:
    """Moments worth cutting at: each entry's time, a microsecond before it, and the
    middle of each gap (deduplicated, in order)."""
    times = sorted(set(entry_times(world)))
    moments = {times[0] - timedelta(days=1)}
    for t in times:
        moments |= {t, t - timedelta(microseconds=1), t + timedelta(minutes=30)}
    return sorted(moments)
