"""Derived statuses: a recommendation's status from its actions' statuses.

A recommendation is only as far along as its least advanced live action (merged and
withdrawn actions no longer count). When every live action is closed, the chair's
outcomes decide the label: any ``not_implementable`` makes the recommendation
not implementable locally (not a failure); otherwise it is verified, or superseded.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.lifecycle import REMOVED_FROM_PLAN, Status

STAGE = {
    Status.NOT_STARTED: 0,
    Status.BLOCKED: 1,
    Status.IN_PROGRESS: 1,
    Status.EVIDENCE_SUBMITTED: 2,
    Status.AGENCY_SIGNED_OFF: 3,
    Status.ACCEPTED: 4,
    Status.VERIFIED: 5,
    Status.NOT_IMPLEMENTABLE: 5,
    Status.SUPERSEDED: 5,
}

NO_ACTIONS = "no_actions"


def recommendation_status(statuses: Iterable[Status]) -> str:
    live = [s for s in statuses if s not in REMOVED_FROM_PLAN]
    if not live:
        return NO_ACTIONS
    least = min(STAGE[s] for s in live)
    if least == 5:
        if Status.NOT_IMPLEMENTABLE in live:
            return Status.NOT_IMPLEMENTABLE.value
        if Status.VERIFIED in live:
            return Status.VERIFIED.value
        return Status.SUPERSEDED.value
    if Status.BLOCKED in live:
        return Status.BLOCKED.value
    if least == 0:
        return (
            Status.NOT_STARTED.value
            if all(s is Status.NOT_STARTED for s in live)
            else Status.IN_PROGRESS.value
        )
    for status in (
        Status.IN_PROGRESS,
        Status.EVIDENCE_SUBMITTED,
        Status.AGENCY_SIGNED_OFF,
        Status.ACCEPTED,
    ):
        if STAGE[status] == least:
            return status.value
    raise AssertionError("unreachable")
