"""The standalone auditor (ledger/auditor/signers.py) holds a session's entries to the
session's own chair, as the domain does (domain/session.py): its minutes are approved by
the user `session.held` names as chair and by nobody else, whatever their role; its
actions arising are recorded and closed by the secretariat (implementation group), the
chair, or that user (a scrutiny member chairing), and not by another scrutiny member.
The authority table alone (roles) cannot say this; the auditor follows the session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.session import session_aggregate_id
from ledger.auditor.roots import Member, Roots
from ledger.auditor.signers import Signers
from ledger.keys import KeyPair
from ledger.signer import Signer

ORIGIN = "council.example/inquiry"
MEMBERS = {
    "sig": "implementation_group",
    "chair": "chair",
    "pcc": "scrutiny",
    "scrutiny2": "scrutiny",
}
AGGREGATE = session_aggregate_id("pcc-aa-2023-03")
HELD = {
    "session_id": "pcc-aa-2023-03", "body": "PCC A&A", "date": "2023-03-13",
    "started_at": "10:00", "ended_at": "12:00", "chair": "pcc", "recommendations": [1],
    "attendees": [{"role": "Police and Crime Commissioner", "label": "PCC"}],
}  # fmt: skip
PAYLOADS: dict[str, dict[str, Any]] = {
    "session.minutes_approved": {"minutes_sha256": "ab" * 32, "entries": [2]},
    "arising.recorded": {
        "arising_id": "pcc-aa-2023-03.1", "session_id": "pcc-aa-2023-03", "recommendation": 1,
        "owner": {"agency": "police"}, "due_date": "2023-04-30", "done_means": "d", "text": "t",
    },
    "arising.closed": {"arising_id": "pcc-aa-2023-03.1", "reason": "done", "evidence": None},
}  # fmt: skip
#: Who the auditor admits for each kind: the session's chair, and the secretariat.
ADMITS = {
    "session.minutes_approved": {"pcc"},
    "arising.recorded": {"pcc", "sig", "chair"},
    "arising.closed": {"pcc", "sig", "chair"},
}


def _sign(user: str, kind: str, version: int, payload: dict[str, Any]) -> Any:
    clock = lambda: datetime(2023, 3, 13, 11, tzinfo=UTC)  # noqa: E731
    return Signer(user, KeyPair.generate(), ORIGIN, clock=clock).sign(
        kind, AGGREGATE, version, payload
    )


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_a_sessions_entries_are_held_to_its_chair(kind: str) -> None:
    roots = Roots(None)
    roots.members = {user: Member(role, None, True, None) for user, role in MEMBERS.items()}
    refused: list[tuple[Any, ...]] = []
    signers = Signers(roots, lambda *problem: refused.append(problem))
    held = _sign("sig", "session.held", 1, HELD)
    assert signers.authorised(0, held.body)
    signers.apply(0, held.body)
    admitted = {
        user for user in MEMBERS if signers.authorised(1, _sign(user, kind, 2, PAYLOADS[kind]).body)
    }
    assert admitted == ADMITS[kind]
    assert any("chaired by pcc" in str(problem) for problem in refused)
