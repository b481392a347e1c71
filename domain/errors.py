"""Domain errors: each names the rule that was broken, so a refusal can be explained."""

from __future__ import annotations


class DomainError(Exception):
    """A command broke a rule of the action plan. `rule` is a stable identifier."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{message} [rule: {rule}]")
        self.rule = rule
        self.message = message


class NotPermitted(DomainError):
    """The actor's role or agency may not do this."""


class InvalidTransition(DomainError):
    """The thing being changed is not in a state that allows this."""


class InvalidInput(DomainError):
    """A value in the command is missing or malformed."""
