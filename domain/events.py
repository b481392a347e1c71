"""The signed-event base class and the registry of event type names.

Every event in the ledger is signed by its actor. The signature and the key that made
it travel with the event, so that an event read back from the store is exactly the
statement its actor signed. The type name (e.g. ``action.signed_off``) is what is signed
and stored, not the Python class path, so the log outlives refactoring of this code.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    from domain.rules import RuleContext

#: Fields every event has that are not part of its payload.
ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "actor",
        "key_id",
        "signature",
        "log_origin",
    }
)

_REGISTRY: dict[str, type[SignedEvent]] = {}


class SignedEvent(Aggregate.Event):
    """Base of every ledger event: who signed it, with which key, and the signature."""

    actor: str
    key_id: str
    signature: str
    log_origin: str  # the log the actor signed it for: the body's "origin" (format v2)

    TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rule = cls.__dict__.get("check")
        if rule is not None and not issubclass(cls, Aggregate.Created):
            cls.check = _needs_state(rule)  # type: ignore[method-assign]
        type_name = cls.__dict__.get("TYPE", "")
        if type_name:
            if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
                raise TypeError(f"event type {type_name!r} registered twice")
            _REGISTRY[type_name] = cls

    def check(self, state: Any, ctx: RuleContext) -> None:
        """Raise a DomainError if `ctx.actor` may not append this event to `state`."""
        raise NotImplementedError(f"{type(self).__name__} has no rule")

    @classmethod
    def payload_fields(cls) -> tuple[str, ...]:
        return _payload_fields(cls)

    def payload(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.payload_fields()}


def _needs_state(rule: Any) -> Any:
    """Every rule but a creation event's may rely on its aggregate existing: an event
    signed for an action (or a plan) that does not exist is refused here, by rule, for
    every caller of `check` (the ledger, verify, the bundle's rules replay, the API)."""

    @functools.wraps(rule)
    def check(self: SignedEvent, state: Any, ctx: RuleContext) -> None:
        if state is None:
            from domain.errors import InvalidTransition

            kind = type(self).__qualname__.split(".")[0].lower()
            raise InvalidTransition("aggregate.exists", f"{self.TYPE} names no existing {kind}")
        rule(self, state, ctx)

    return check


@functools.cache
def _payload_fields(cls: type[SignedEvent]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)


def event_class(type_name: str) -> type[SignedEvent]:
    """The event class registered under a type name; KeyError if there is none."""
    return _REGISTRY[type_name]


def event_types() -> dict[str, type[SignedEvent]]:
    return dict(_REGISTRY)
