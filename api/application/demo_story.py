"""The demo's story beside its simulated history (api/application/demo.py): what the
council's report of 10 November 2022 says had been done, backfilled with each fact citing
its paragraph (api/application/data/telford_baseline_2022-11-10.csv); the formal response
to each recommendation from the same report; Telford's own words for the report, the
levels and the bodies; and one simulated transfer of an action to another lead agency.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.application.backfill import backfill, read_facts
from api.application.commands import Client
from ledger.service import Ledger
from projections.asof import OCCURRED, parse_as_of, status_as_of

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
