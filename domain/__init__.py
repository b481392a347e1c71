"""The inquiry's action plan and its rules: pure, no I/O.

Aggregates (`Directory`, `Plan`, `Action`) are built on `eventsourcing` and change only
through signed events; every event class carries the rule that says who may append it.
"""

from domain.action import Action
from domain.challenge import Challenge
from domain.directory import Directory
from domain.errors import DomainError, InvalidInput, InvalidTransition, NotPermitted
from domain.events import SignedEvent, event_class, event_types
from domain.ids import DIRECTORY_ID, PLAN_ID, action_aggregate_id, challenge_aggregate_id
from domain.lifecycle import SignOffLevel, Status
from domain.plan import Plan
from domain.reminders import Reminders
from domain.roles import Actor, Role
from domain.rules import RuleContext
from domain.session import Session

__all__ = [
    "DIRECTORY_ID",
    "PLAN_ID",
    "Action",
    "Actor",
    "Challenge",
    "Directory",
    "DomainError",
    "InvalidInput",
    "InvalidTransition",
    "NotPermitted",
    "Plan",
    "Reminders",
    "Role",
    "RuleContext",
    "Session",
    "SignOffLevel",
    "SignedEvent",
    "Status",
    "action_aggregate_id",
    "challenge_aggregate_id",
    "event_class",
    "event_types",
]
