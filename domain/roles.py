"""Who may act: roles, agencies and the actor of an event."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"
    AGENCY_LEAD = "agency_lead"
    IMPLEMENTATION_GROUP = "implementation_group"
    CHAIR = "chair"
    SCRUTINY = "scrutiny"
    #: A lived-experience consultee: reads the plan and the actions, comments and
    #: challenges, signs nothing off (issue 15; appointed as the charter says).
    LIVED_EXPERIENCE = "lived_experience"
    ADMIN = "admin"


#: Roles that act for one agency and only for that agency's actions.
AGENCY_ROLES = frozenset({Role.OFFICER, Role.AGENCY_LEAD})


@dataclass(frozen=True)
class Actor:
    """The registered identity behind a signature, as the directory knows it."""

    user_id: str
    role: Role
    agency: str | None

    def describe(self) -> str:
        where = f" of {self.agency}" if self.agency else ""
        return f"{self.user_id} ({self.role.value}{where})"
