"""The demo's story beside its simulated history (api/application/demo.py): what the
council's report of 10 November 2022 says had been done, backfilled with each fact citing
its paragraph (api/application/data/telford_baseline_2022-11-10.csv); the formal response
to each recommendation from the same report; Telford's own words for the report, the
levels and the bodies; one simulated transfer of an action to another lead agency; and
the PCC's Assurance & Accountability meeting of 13 March 2023 (the seed's minutes): its
challenge on mobile operations, the simulated answer, the action arising and its closure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from api.application.backfill import backfill, read_facts
from api.application.commands import Client
from api.application.minutes import Hold, approve, close_arising, hold, record_arising
from ledger.service import Ledger
from projections.asof import OCCURRED, parse_as_of, status_as_of
from projections.challenges import next_challenge_id
from projections.minutes import Minutes, list_arisings, list_sessions

DATA = Path(__file__).resolve().parent / "data"
BASELINE_NAME = "telford_baseline_2022-11-10.csv"
COUNCIL_REPORT = "Report to Full Council, 10 November 2022"
#: A simulated change of responsibility: the annual CSE report (recommendation 2) moves
#: from the multi-agency partnership to the council, which hosts the review group.
TRANSFER = (
    datetime(2023, 4, 3, tzinfo=UTC),
    "R2.1",
    "council",
    "The council hosts the Joint CSE Review Group and will publish its annual report",
)
#: What the council's reports call the report, the levels and the bodies (domain/wording.py).
TELFORD_WORDS = {
    "report_title": "Council progress report",
    "level_agency": "Agency sign-off",
    "level_implementation_group": "Strategic Implementation Group acceptance",
    "level_chair": "Independent verification",
    "body_implementation_group": "Strategic Implementation Group",
    "body_chair": "Independent chair",
    "body_scrutiny": "Scrutiny Assembly",
    "not_implementable": "Not implementable locally",
}


def record_the_past(ledger: Ledger, sig: Client, clock: Any, plan: Any) -> None:
    """What the council's report of 10 November 2022 says had been done (backfilled, each
    fact citing its paragraph), and the formal response it records to each recommendation:
    accepted by its lead agencies, who are implementing it."""
    facts = read_facts(DATA / BASELINE_NAME)
    backfill(ledger, sig.signer, facts)
    for number, rec in sorted(plan.recommendations.items()):
        clock.now += timedelta(seconds=30)
        responder = "; ".join(plan.agencies[a] for a in rec.lead_agencies)
        sig.respond(number, "accepted", "2022-11-10", responder, "", COUNCIL_REPORT)


def show_the_past(ledger: Ledger, start: datetime) -> None:
    """The two questions a date can ask, on the day of the council's report (the record
    began at `start`), and the transfer."""
    said = status_as_of(ledger, as_of=parse_as_of("2022-11-10"))
    happened = status_as_of(ledger, as_of=parse_as_of("2022-11-10"), basis=OCCURRED)
    backfilled = [a for a in happened.actions if a.backfilled_on]
    print(
        f"On 10 November 2022 the record held {len(said.actions)} actions (it began on "
        f"{start:%d %B %Y}); what had happened by then, as it stands now: "
        f"{len(backfilled)} actions in progress, backfilled from the {COUNCIL_REPORT}."
    )
    moved = ledger.action(TRANSFER[1])
    if moved is not None and len(moved.lead_history) > 1:
        before, now = moved.lead_history[-2], moved.lead_history[-1]
        print(
            f"{TRANSFER[1]} was transferred from {before.agency} to {now.agency} on "
            f"{now.since:%d %B %Y}: {TRANSFER[3]} "
            f"(`timeline {TRANSFER[1]}` shows who led it when)."
        )
    show_the_meeting(ledger)


#: The PCC's Assurance & Accountability meeting of 13 March 2023 (the second seed's
#: minutes), and a later one of the same body at which its action arising is closed.
ASSURANCE_BODY = "PCC Assurance & Accountability"
ASSURANCE_COVERED = [1, 2, 3, 6, 8, 20, 29, 31, 36, 37, 38, 39, 41]
MOBILE_OPERATIONS = (
    "For the T/DCC to share with the OPCC the extent and frequency of the mobile operations"
)
POLICE = "west-mercia-police"


@dataclass(frozen=True)
class Meeting:
    session_id: str
    day: date
    covered: list[int]


#: A lived-experience consultee (issue 15), by a role handle, never a name: at the March
#: meeting they give the panel's view on the taxi-licensing action.
CONSULTEE = "lived-experience-1"
TAXI_ACTION = "R29.1"
CONSULTEE_VIEW = (
    "Young people on the panel say the risk is in the evening and at weekends, when they "
    "travel alone; operations in the daytime only would miss it."
)

MEETINGS = (
    Meeting("pcc-aa-2023-03", date(2023, 3, 13), ASSURANCE_COVERED),
    Meeting("pcc-aa-2023-06", date(2023, 6, 12), [29]),
)


class AssuranceMeetings:
    """Holds each meeting in `MEETINGS` once the simulation's day has passed its date,
    from 13:30 to 17:00 UTC on it (the simulation acts from 09:00 to about 10:00 on its
    days, so the clock only moves forward). It signs no action entry and draws on no
    random numbers: the simulated history of the actions is unchanged."""

    def __init__(
        self,
        ledger: Ledger,
        clock: Any,
        client: Callable[[str], Client],
        join: Callable[[str], Client],
        digest: Callable[[Minutes], str] | None,
    ) -> None:
        plan = ledger.plan()
        rec = plan.recommendations.get(29) if plan else None
        ready = digest is not None and rec is not None and POLICE in rec.lead_agencies
        self.pending = list(MEETINGS) if ready else []
        self.ledger, self.clock, self.client, self.join = ledger, clock, client, join
        self.digest = digest
        self.numbers = set(plan.recommendations) if plan else set()
        self.challenge_id = ""

    def before(self, day: datetime) -> None:
        """Hold the meetings dated before `day` not yet held."""
        while self.pending and self.pending[0].day < day.date():
            meeting = self.pending.pop(0)
            if meeting is MEETINGS[0]:
                self._first(meeting)
            else:
                self._later(meeting)

    def _at(self, meeting: Meeting, hhmm: str) -> None:
        hour, minute = map(int, hhmm.split(":"))
        self.clock.now = datetime.combine(meeting.day, time(hour, minute), tzinfo=UTC)

    def _hold(self, meeting: Meeting) -> None:
        attendees = [
            {"role": "Police and Crime Commissioner", "label": "PCC"},
            {"role": "Head of Policy, OPCC", "label": "CR"},
            {"role": "Temporary Chief Constable", "agency": POLICE, "label": "T/CC"},
            {"role": "Temporary Deputy Chief Constable", "agency": POLICE, "label": "T/DCC"},
        ]
        covered = [n for n in meeting.covered if n in self.numbers]
        hold(
            self.client("sig"),
            Hold(meeting.session_id, ASSURANCE_BODY, meeting.day.isoformat(), "14:00",
                 "16:00", "pcc", attendees, covered),
        )  # fmt: skip

    def _approve(self, meeting: Meeting) -> None:
        assert self.digest is not None
        self._at(meeting, "16:45")
        approve(self.ledger, self.client("pcc"), meeting.session_id, self.digest)

    def _first(self, meeting: Meeting) -> None:
        self._at(meeting, "13:30")
        pcc = self.join("pcc")
        self.client("chair").register_user(
            "pcc",
            "PCC, chairing the assurance meeting",
            "scrutiny",
            None,
            pcc.signer.key.public_key,
        )
        consultee = self.join(CONSULTEE)
        self.client("chair").register_user(
            CONSULTEE,
            "Lived-experience panel member",
            "lived_experience",
            None,
            consultee.signer.key.public_key,
        )
        self._at(meeting, "13:50")
        self._hold(meeting)
        self._at(meeting, "14:20")
        self.challenge_id = next_challenge_id(self.ledger.entries())
        pcc.raise_challenge(
            self.challenge_id, "R29", POLICE,
            "Are the mobile operations on taxis undertaken in the daytime only, or "
            "throughout the day and evening, and how often?",
        )  # fmt: skip
        self._at(meeting, "14:40")
        self.client(f"{POLICE}.officer").answer_challenge(
            self.challenge_id,
            "More enforcement operations are taking place; mobile operations identify anyone "
            "transported in a taxi who may be at risk. The T/DCC will share their extent and "
            "frequency with the OPCC.",
        )
        if self.ledger.action(TAXI_ACTION) is not None:
            self._at(meeting, "15:10")
            consultee.comment(TAXI_ACTION, CONSULTEE_VIEW)
        self._at(meeting, "16:20")
        record_arising(
            self.ledger, self.client("sig"), meeting.session_id, recommendation=29,
            owner={"agency": POLICE}, due_date="2023-04-28",
            done_means="The OPCC has when the mobile operations run and how often",
            text=MOBILE_OPERATIONS,
        )  # fmt: skip
        self._approve(meeting)

    def _later(self, meeting: Meeting) -> None:
        self._at(meeting, "13:50")
        self._hold(meeting)
        self._at(meeting, "14:10")
        pcc = self.client("pcc")
        close_arising(
            self.ledger, pcc, f"{MEETINGS[0].session_id}.1",
            "The T/DCC shared the extent and frequency of the mobile operations with the OPCC",
            None,
        )  # fmt: skip
        if self.challenge_id:
            self._at(meeting, "14:25")
            pcc.close_challenge(
                self.challenge_id, "satisfied", "The figures were shared with the OPCC"
            )
        self._approve(meeting)


def show_the_meeting(ledger: Ledger) -> None:
    """One line about the March assurance meeting, read back from the log."""
    first = MEETINGS[0].session_id
    held = {s.session_id: s for s in list_sessions(ledger.entries())}
    arising = [a for a in list_arisings(ledger.entries()) if a.session_id == first]
    if first not in held or not arising:
        return
    s, a = held[first], arising[0]
    plan = ledger.plan()
    agencies = plan.agencies if plan else {}
    owner = (
        agencies.get(a.owner_agency or "", a.owner) if a.owner.startswith("agency ") else a.owner
    )
    state = f"closed on {a.closed_at[:10]}" if a.closed_at else "open"
    print(
        f"The {s.body} session of {MEETINGS[0].day:%d %B %Y} ({first}) covered "
        f"{len(s.recommendations)} recommendations; its action arising {a.arising_id} "
        f"({a.text}, owned by {owner}, due {a.due_date}) is {state}; minutes "
        f"{'approved' if s.approved_leaf is not None else 'draft'} "
        f"(`session minutes {first}`)."
    )
