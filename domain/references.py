"""Recommendations as the inquiry writes them: free-form references and their grouping.

Inquiries number their recommendations in their own ways: Telford 1 to 47, Grenfell's
second phase "113.6", IICSA "K10.1" or none at all. The plan keeps a whole number per
recommendation as its stable key and display order (the URL, the action ids R10.2, the
order of every table) and, beside it, the reference the inquiry printed and the group it
sits in (a phase, a chapter, a part). Until a reference is given the number is the
reference, so a plan that never gives one reads as before.

A reference is what a reader types to find a recommendation, so it must find exactly
one: unique within the plan (compared without regard to case and surrounding space, as a
reader types it), never another recommendation's number written as digits, and a
reference a recommendation used to have stays its own (`Plan.find` follows it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from domain.errors import InvalidInput, InvalidTransition

MAX_REFERENCE = 40
MAX_GROUP = 200


def reference_key(text: str) -> str:
    """How references compare: "k10.1 " finds "K10.1"."""
    return " ".join(text.split()).casefold()


def check_reference(value: object, rule: str) -> str:
    """A printable line of at most 40 characters, not blank; the reference as given."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(rule, "reference must be a non-empty string")
    if len(value) > MAX_REFERENCE:
        raise InvalidInput(rule, f"reference is longer than {MAX_REFERENCE} characters")
    if value != value.strip() or any(_unprintable(c) for c in value):
        raise InvalidInput(
            rule,
            "reference must be one line without leading or trailing spaces or control characters",
        )
    return value


def check_group(value: object, rule: str) -> None:
    """A phase, chapter or part: one line of at most 200 characters, or empty."""
    if not isinstance(value, str) or len(value) > MAX_GROUP:
        raise InvalidInput(rule, f"group must be a string of at most {MAX_GROUP} characters")
    if any(_unprintable(c) for c in value):
        raise InvalidInput(rule, "group must be one line without control characters")


def require_free_reference(
    reference: str,
    number: int,
    taken: Iterable[tuple[int, str]],
    numbers: Iterable[int],
    rule: str,
) -> None:
    """`reference` may be recommendation `number`'s: no other recommendation has or had
    it (`taken`: (number, reference) pairs, current and former), and it is not another
    recommendation's number written as digits (`numbers`)."""
    key = reference_key(reference)
    for other, used in taken:
        if other != number and reference_key(used) == key:
            raise InvalidTransition(
                rule, f"reference {reference!r} is recommendation {other}'s; choose another"
            )
    digits = reference.isascii() and reference.isdigit()
    if digits and int(reference) != number and int(reference) in set(numbers):
        raise InvalidTransition(
            rule,
            f"reference {reference!r} is another recommendation's number; a reader "
            "typing it would find that one",
        )


def require_number_unreferenced(
    number: int, own: int | None, taken: Iterable[tuple[int, str]], rule: str
) -> None:
    """A number a recommendation is given (added, renumbered) must not be another's
    reference written as digits ("7" given to recommendation 1): a reader typing it
    would find the other one. `own`: the recommendation being renumbered, if any."""
    for other, used in taken:
        if other != own and reference_key(used) == str(number):
            raise InvalidTransition(
                rule,
                f"{number} is recommendation {other}'s reference ({used!r}); a reader typing "
                "it would find that one: choose another number",
            )


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}
