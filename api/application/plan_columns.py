"""The plan files' columns: which the import needs, which it can do without, and what each
holds, in one place, so that the import's checks, its hints and the blank template
(`plan_template.py`) a clerk fills in cannot say different things.

Only the columns that identify a row or say who leads it are required. The descriptive
ones may be left out or left blank: a public recommendation list rarely states an
expected outcome or the evidence that will close each action, and the group fills those
in by amending the action later, rather than typing a placeholder into a signed record.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    #: What goes in it, for a clerk (the template's note on the header cell).
    note: str
    example: str


@dataclass(frozen=True)
class FileKind:
    """Recommendations or actions: the columns a file of that kind has, in order."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


RECOMMENDATIONS = FileKind(
    "recommendations",
    (
        Column(
            "number",
            False,
            "its place in the plan's order (a whole number 1-999); may be left out where "
            "`reference` is given, and is then the next one free",
            "1",
        ),
        Column(
            "title",
            True,
            "a short title for it; leave it blank while its text is not yet known (a "
            "placeholder: lead_agencies and text blank too)",
            "Establish a review group",
        ),
        Column(
            "lead_agencies",
            True,
            "the agencies that lead it by name (several: separate them with semicolons)",
            "Council;Police",
        ),
        Column(
            "text",
            False,
            "optional: the recommendation's full wording as published",
            "The council and the police should together establish a review group.",
        ),
        Column(
            "reference",
            False,
            "optional: how the inquiry writes it (113.6, K10.1); without it the number is it",
            "1",
        ),
        Column(
            "group",
            False,
            "optional: the phase, chapter or part the inquiry lists it under",
            "",
        ),
    ),
)

ACTIONS = FileKind(
    "actions",
    (
        Column(
            "action_id",
            True,
            "R then the recommendation's number then a dot and the action's number (R1.1); "
            "left blank, the next free one is made",
            "R1.1",
        ),
        Column(
            "recommendation",
            True,
            "the number or reference of the recommendation it serves",
            "1",
        ),
        Column("title", True, "what will be done", "Set up the review group"),
        Column(
            "lead_agency",
            True,
            "the one agency that leads it (as named in the recommendations file)",
            "Council",
        ),
        Column(
            "lead_officers",
            False,
            "optional: who leads it there (several: separate them with semicolons)",
            "Head of Safeguarding",
        ),
        Column(
            "expected_outcome",
            False,
            "optional: what will be different when it is done",
            "The group meets monthly and reports to the board",
        ),
        Column(
            "evidence_required",
            False,
            "optional: the evidence that shows it is complete",
            "Terms of reference and the minutes of the first meeting",
        ),
        Column(
            "due_date",
            False,
            "optional: the date it is due as YYYY-MM-DD (if Excel shows 31/03/2025 format the"
            " column as text or use the .xlsx template)",
            "2025-03-31",
        ),
    ),
)

KINDS = (RECOMMENDATIONS, ACTIONS)
