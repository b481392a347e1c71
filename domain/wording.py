"""The words a ledger uses for its report and its bodies: the vocabulary, its generic
defaults, and the rule a `plan.wording_set` entry must keep.

Why signed and in the plan: a report title, what the sign-off levels and the bodies are
called, and how the chair's "not implementable" outcome reads are the ledger's own (one
council's "Strategic Implementation Group" is another's "Recovery Board"). Kept in the
record, a report or page shown as of a date uses the words that stood then, and the
public tracker can show them. Nothing here is Telford's: the defaults are generic, and the
demo signs Telford's words like any other ledger would.

Only the keys below exist; an entry naming another is refused by name, and a key it
leaves out keeps its current value.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import InvalidInput


@dataclass(frozen=True)
class Word:
    key: str
    default: str
    #: What it names, for `plan words show` and the CLI's help.
    meaning: str
    max_length: int = 80


VOCABULARY: tuple[Word, ...] = (
    Word("report_title", "Progress report", "the report's title", 120),
    Word("level_agency", "Agency sign-off", "the agency's sign-off level"),
    Word(
        "level_implementation_group",
        "Implementation group acceptance",
        "the implementation group's sign-off level",
    ),
    Word("level_chair", "Independent verification", "the chair's sign-off level"),
    Word("body_implementation_group", "Implementation group", "the implementation group"),
    Word("body_chair", "Independent chair", "the chair"),
    Word("body_scrutiny", "Scrutiny", "the scrutiny body"),
    Word("not_implementable", "Not implementable", "the chair's not_implementable outcome"),
)
WORDS = {w.key: w for w in VOCABULARY}
DEFAULTS: dict[str, str] = {w.key: w.default for w in VOCABULARY}
#: Line and paragraph separators break a line as a control character would.
_SEPARATORS = frozenset({"\u2028", "\u2029", "\u0085"})


def check_words(words: object, rule: str) -> None:
    """`words` is {key: text}: at least one key, every key the vocabulary's, every text
    one line of 1 to the word's maximum characters without control characters or
    surrounding blanks. InvalidInput naming the first fault otherwise."""
    if not isinstance(words, dict) or not words:
        raise InvalidInput(rule, "words is {key: text} with at least one key")
    unknown = sorted(str(k) for k in words if k not in WORDS)
    if unknown:
        raise InvalidInput(
            rule,
            f"unknown words: {', '.join(unknown)} (known: {', '.join(WORDS)})",
        )
    for key, text in words.items():
        check_text(key, text, rule)


def check_text(key: str, text: object, rule: str) -> None:
    limit = WORDS[key].max_length
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(rule, f"{key} must be a non-empty string")
    if text != text.strip():
        raise InvalidInput(rule, f"{key} has blanks at its start or end")
    if len(text) > limit:
        raise InvalidInput(rule, f"{key} is longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" or c in _SEPARATORS for c in text):
        raise InvalidInput(rule, f"{key} contains a control character or line break")


def resolved(words: Mapping[str, str] | None) -> dict[str, str]:
    """Every word: the ledger's where it set one, else the generic default (a snapshot
    written before a word existed reads as the default)."""
    given = words or {}
    return {key: given.get(key, default) for key, default in DEFAULTS.items()}


def in_sentence(text: str) -> str:
    """A name as it reads inside a sentence: "Independent chair" -> "independent chair",
    but a proper name ("Strategic Implementation Group", "SIG") is left as it is: the
    first letter is lowered only if no other letter of the text is a capital."""
    if len(text) < 2 or any(c.isupper() for c in text[1:]):
        return text
    return text[0].lower() + text[1:]


def level_name(level: str, words: Mapping[str, str]) -> str:
    """A sign-off level's display name ("agency" -> "Agency sign-off")."""
    return words.get(f"level_{level}", level.replace("_", " "))


def role_name(role: str, words: Mapping[str, str]) -> str:
    """A role as a reader sees it: the bodies by the ledger's names, the rest in words
    ("agency_lead" -> "agency lead")."""
    return words.get(f"body_{role}", role.replace("_", " "))


def status_name(status: str, words: Mapping[str, str]) -> str:
    """A status in words, as it reads in a table or a sentence: the chair's
    not_implementable outcome by the ledger's label ("Not implementable" -> "not
    implementable"), the rest as their names read ("agency_signed_off" -> "agency
    signed off")."""
    if status == "not_implementable":
        return in_sentence(words.get("not_implementable", DEFAULTS["not_implementable"]))
    return status.replace("_", " ")
