"""`inquiry-ledger demo`: the Telford plan with a simulated history, then its status.

Only the plan comes from the public record: the recommendations and lead agencies
named in the council's reports (shipped in api/application/data/). The recommendations
not named there are left out and shown as "not yet imported", never given invented titles.
The actions, users and everything that happens to them are simulated (seeded, so every
run makes the same history), from 16 November 2022 to the chair's return in July 2024, on
a simulated clock the ledger is given in place of the wall clock.

Recording begins a week after the Full Council report of 10 November 2022, so what that
report says had been done is the plan's past: the implementation group backfills it
(api/application/data/telford_baseline_2022-11-10.csv, each fact citing its paragraph),
and `status --as-of 2022-11-10` (what the record said then: nothing yet) and `status
--as-of 2022-11-10 --occurred` (what had happened by then) differ. In April 2023 the
group transfers one action to another lead agency (`TRANSFER`, simulated). The formal response to
each recommendation is recorded from the same report: the council and its partners
accepted the recommendations and are implementing them. On 13 March 2023 the PCC holds the
Assurance & Accountability session of the seed's minutes (demo_story.py `AssuranceMeetings`:
its challenge on mobile operations, a simulated answer, the action arising, closed in June).
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from api.application.commands import Client
from api.application.demo_story import (
    TELFORD_WORDS,
    TRANSFER,
    AssuranceMeetings,
    record_the_past,
    show_the_past,
)
from api.application.plan_import import ACTION_COLUMNS, agency_id, import_csv
from api.application.render import render_status
from api.application.setup import initialise
from domain import DomainError, Status
from evidence_store.local import LocalEvidenceStore
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.note import NoteSigner, VerifierKey
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer
from ledger.verify import verify_ledger
from projections.status import Replay, status_from

DATA_NAME = "telford_recommendations_from_reports.csv"
ORIGIN = "telford.inquiry-ledger.example/cse-inquiry-2022"
START = datetime(2022, 11, 16, 9, 0, tzinfo=UTC)
WORKDAY_START = timedelta(hours=9)
END = datetime(2024, 7, 31, 17, 0, tzinfo=UTC)
CHAIR_RETURNS = datetime(2024, 6, 1, tzinfo=UTC)
#: Full Council received progress reports roughly every six months.
COUNCIL_REPORTS = [
    datetime(2023, 7, 13, tzinfo=UTC),
    datetime(2023, 11, 30, tzinfo=UTC),
    datetime(2024, 7, 18, tzinfo=UTC),
]
RECOMMENDATIONS_IN_REPORT = 47


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def default_data_file() -> Path:
    return Path(__file__).resolve().parent / "data" / DATA_NAME


@dataclass
class Cast:
    """The simulated people, each with a key of their own."""

    clients: dict[str, Client] = field(default_factory=dict)

    def __getitem__(self, user: str) -> Client:
        return self.clients[user]


def run_demo(
    config: LedgerConfig,
    data_file: Path | None = None,
    minutes_digest: Callable[[Any], str] | None = None,
) -> int:
    """Seed and show the demo; `minutes_digest` (projections/minutes_render.py's
    `minutes_sha256`, handed in: this layer renders nothing) lets it hold and approve
    the PCC's assurance meetings (none without it)."""
    data_file = data_file or default_data_file()
    if not data_file.exists():
        print(f"demo: cannot find the plan data {data_file}; pass --data FILE")
        return 4
    clock = SimulatedClock(START)
    ledger = Ledger(config, clock=clock, evidence=LocalEvidenceStore(config.evidence_dir))
    with ledger:
        if ledger.directory() is None:
            print(f"Seeding the Telford plan into {config.describe_store()} …")
            _seed(ledger, config, clock, data_file, minutes_digest)
        else:
            print(f"The demo ledger in {config.home} is already seeded; showing it.")
        return _show(ledger, config)


SIMULATED_KEYS_NOTE = """SIMULATED USERS OF THE DEMO: NOT HOW A REAL LEDGER KEEPS KEYS.

The demo plays every user (administrator, chair, implementation group, agency leads,
officers, scrutiny), so their private keys are kept here, in the server's folder. On a
real ledger each user makes their key on their own machine (inquiry-ledger keys new) and
the server holds no user's private key; the chair's key in particular never reaches the
operator, which is what lets an auditor pin it (verify-bundle --trust trust.keys).
"""


def _simulated_key(config: LedgerConfig, user_id: str) -> KeyPair:
    """A simulated user's key, kept (labelled as such) in the demo's home folder."""
    path = config.user_key_path(user_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    note = path.parent / "SIMULATED-USERS-README.txt"
    if not note.exists():
        note.write_text(SIMULATED_KEYS_NOTE)
    if path.exists():
        return KeyPair.read(path)
    key = KeyPair.generate()
    key.write(path)
    return key


def _seed(
    ledger: Ledger,
    config: LedgerConfig,
    clock: SimulatedClock,
    data: Path,
    digest: Callable[[Any], str] | None = None,
) -> None:
    initialise(
        config,
        origin=ORIGIN,
        admin_id="admin",
        admin_name="Ledger administrator",
        admin_key=_simulated_key(config, "admin"),
        ledger=ledger,
    )
    cast = Cast()
    chair = _join(ledger, config, clock, cast, "chair")
    clock.now += timedelta(minutes=2)
    chair.adopt_charter(
        "Independent inquiry chair",
        "Independent Inquiry into CSE in Telford: implementation and independent verification",
        off_page_roles=["chair"],
    )
    (config.home / "trust.keys").write_text(
        "# the roots of authority an auditor pins: the chair's charter key\n"
        + encode_public_key(chair.signer.key.public_key)
        + "\n"
    )
    clock.now += timedelta(minutes=1)
    sig = _join(ledger, config, clock, cast, "sig")
    chair.register_user(
        "sig",
        "Strategic Implementation Group",
        "implementation_group",
        None,
        sig.signer.key.public_key,
    )
    clock.now += timedelta(minutes=5)
    import_csv(
        ledger,
        sig.signer,
        data,
        title="Independent Inquiry into CSE in Telford: implementation plan",
        source="Telford & Wrekin Council, Full Council 10 Nov 2022; PCC assurance and "
        "accountability minutes (recommendations named there only)",
        recommendations_expected=RECOMMENDATIONS_IN_REPORT,
    )
    # Telford's own words, signed like any ledger's (the code's defaults are generic).
    sig.set_wording(TELFORD_WORDS, "the names Telford & Wrekin's reports use")
    plan = ledger.plan()
    assert plan is not None
    actions_csv = config.home / "demo-actions.csv"
    _write_actions(actions_csv, plan.recommendations, plan.agencies)
    clock.now += timedelta(minutes=5)
    import_csv(ledger, sig.signer, actions_csv)
    clock.now += timedelta(minutes=5)
    record_the_past(ledger, sig, clock, plan)
    _register_cast(ledger, config, clock, cast, sorted(plan.agencies))
    _simulate(ledger, config, clock, cast, digest)


def _write_actions(path: Path, recommendations: dict[int, Any], agencies: dict[str, str]) -> None:
    """One action per lead agency of each recommendation (demo actions, not the real plan's)."""
    rng = random.Random(149)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACTION_COLUMNS)
        for number, rec in sorted(recommendations.items()):
            for k, agency in enumerate(rec.lead_agencies, start=1):
                due = date(2023, 3, 31) + timedelta(days=rng.choice(range(0, 400, 30)))
                writer.writerow(
                    [
                        f"R{number}.{k}",
                        number,
                        f"{agencies[agency]}: {rec.title}",
                        agency,
                        f"{agencies[agency]} lead officer",
                        f"{agencies[agency]}'s part of recommendation {number} is in place",
                        "Documentary evidence named in the action plan, signed off by the "
                        "agency lead",
                        due.isoformat(),
                    ]
                )


def _join(
    ledger: Ledger, config: LedgerConfig, clock: SimulatedClock, cast: Cast, user_id: str
) -> Client:
    """A simulated person with their own key (registered by whoever appoints them)."""
    key = _simulated_key(config, user_id)
    cast.clients[user_id] = Client(ledger, Signer(user_id, key, ORIGIN, clock=clock))
    return cast.clients[user_id]


def _register_cast(
    ledger: Ledger,
    config: LedgerConfig,
    clock: SimulatedClock,
    cast: Cast,
    agencies: list[str],
) -> None:
    """The appointments the charter asks for: the chair appoints each agency's lead and
    scrutiny; each lead registers their own agency's officer."""
    chair = cast["chair"]
    for agency in agencies:
        short = agency_id(agency)
        clock.now += timedelta(minutes=1)
        lead = _join(ledger, config, clock, cast, f"{short}.lead")
        chair.register_user(
            f"{short}.lead",
            f"Agency lead, {agency}",
            "agency_lead",
            agency,
            lead.signer.key.public_key,
        )
        clock.now += timedelta(minutes=1)
        officer = _join(ledger, config, clock, cast, f"{short}.officer")
        lead.register_user(
            f"{short}.officer",
            f"Officer, {agency}",
            "officer",
            agency,
            officer.signer.key.public_key,
        )
    clock.now += timedelta(minutes=1)
    scrutiny = _join(ledger, config, clock, cast, "scrutiny")
    chair.register_user(
        "scrutiny", "Scrutiny committee", "scrutiny", None, scrutiny.signer.key.public_key
    )


def _simulate(
    ledger: Ledger,
    config: LedgerConfig,
    clock: SimulatedClock,
    cast: Cast,
    digest: Callable[[Any], str] | None = None,
) -> None:
    rng = random.Random(2022)
    meetings = AssuranceMeetings(
        ledger,
        clock,
        cast.__getitem__,
        lambda user: _join(ledger, config, clock, cast, user),
        digest,
    )
    log_signer = NoteSigner(ORIGIN, KeyPair.read(config.log_key_path))
    store = LocalEvidenceStore(config.evidence_dir)
    plan = ledger.plan()
    assert plan is not None
    action_ids = sorted(
        (a for a in _action_ids(ledger, plan)), key=lambda a: (int(a[1:].split(".")[0]), a)
    )
    reports = list(COUNCIL_REPORTS)
    day = datetime(2022, 11, 17, tzinfo=UTC)
    rotated = transferred = False
    while day < END:
        for report in [r for r in reports if r <= day]:
            clock.now = report
            ledger.sign_checkpoint(log_signer)
            reports.remove(report)
        if not rotated and day >= datetime(2023, 6, 1, tzinfo=UTC):
            _rotate_key(ledger, config, clock, cast, "council.officer")
            rotated = True
        if not transferred and day >= TRANSFER[0]:
            clock.now = day + WORKDAY_START - timedelta(minutes=30)
            cast["sig"].transfer_lead(*TRANSFER[1:])
            transferred = True
        meetings.before(day)  # the PCC's assurance meetings (demo_story.py)
        todays = rng.sample(action_ids, k=min(len(action_ids), 4))
        for minute, action_id in enumerate(todays):
            clock.now = day + WORKDAY_START + timedelta(minutes=17 * minute)
            _step(ledger, cast, store, rng, action_id, day)
        day += timedelta(days=rng.choice([2, 3, 4]))
    clock.now = END
    ledger.sign_checkpoint(log_signer)


def _action_ids(ledger: Ledger, plan: Any) -> list[str]:
    return [
        f"R{n}.{k}"
        for n, rec in plan.recommendations.items()
        for k in range(1, len(rec.lead_agencies) + 1)
    ]


def _rotate_key(
    ledger: Ledger, config: LedgerConfig, clock: SimulatedClock, cast: Cast, user: str
) -> None:
    path = config.user_key_path(user)
    retired = path.with_suffix(".key.retired-2023-06")
    if not retired.exists():
        path.rename(retired)
    new_key = KeyPair.generate()
    new_key.write(path)
    cast[user].rotate_key(user, new_key.public_key, "new laptop issued; routine rotation")
    cast.clients[user] = Client(ledger, Signer(user, new_key, ORIGIN, clock=clock))


def _step(
    ledger: Ledger,
    cast: Cast,
    store: LocalEvidenceStore,
    rng: random.Random,
    action_id: str,
    day: datetime,
) -> None:
    action = ledger.action(action_id)
    assert action is not None
    agency = action.lead_agency
    officer, lead = cast[f"{agency}.officer"], cast[f"{agency}.lead"]
    chair_time = day >= CHAIR_RETURNS
    roll = rng.random()
    moves: dict[Status, Callable[[], Any]] = {
        Status.NOT_STARTED: lambda: officer.change_status(action_id, Status.IN_PROGRESS),
        Status.IN_PROGRESS: lambda: _work(officer, store, rng, action_id, day, roll),
        Status.BLOCKED: lambda: officer.change_status(
            action_id, Status.IN_PROGRESS, "national guidance now published"
        ),
        Status.EVIDENCE_SUBMITTED: lambda: (
            lead.return_action(action_id, ["the evidence does not yet show the outcome"])
            if roll < 0.15
            else lead.sign_off(action_id, "We confirm this action is complete.")
        ),
        Status.AGENCY_SIGNED_OFF: lambda: (
            cast["sig"].comment(
                action_id, "Please set out how survivors were consulted.", challenge=True
            )
            if roll < 0.1
            else cast["sig"].return_action(action_id, ["impact not yet evidenced"])
            if roll < 0.2
            else cast["sig"].sign_off(action_id, "Accepted by the SIG.")
        ),
        Status.ACCEPTED: lambda: (
            None
            if not chair_time
            else cast["chair"].change_status(
                action_id,
                Status.NOT_IMPLEMENTABLE,
                "depends on national legislative change outside local control",
            )
            if roll < 0.06
            else cast["chair"].return_action(
                action_id, ["the outcome is not yet evident in practice"]
            )
            if roll < 0.14
            else cast["chair"].sign_off(action_id, "Verified on the chair's return visit.")
        ),
    }
    if action.status is Status.IN_PROGRESS and roll > 0.97:
        moves[Status.IN_PROGRESS] = lambda: officer.change_status(
            action_id, Status.BLOCKED, "awaiting national guidance"
        )
    if rng.random() < 0.1:
        lead.rate(
            action_id, rng.choice(["green", "green", "amber", "red"]), "monthly self-assessment"
        )
    move = moves.get(action.status)
    if move is None:
        return
    try:
        move()
    except DomainError as error:  # the simulation tries things; the rules decide
        raise AssertionError(f"demo step on {action_id} refused: {error}") from error


def _work(
    officer: Client,
    store: LocalEvidenceStore,
    rng: random.Random,
    action_id: str,
    day: datetime,
    roll: float,
) -> Any:
    action = officer.action(action_id)
    if action.current_evidence() and roll < 0.5:
        return officer.change_status(action_id, Status.EVIDENCE_SUBMITTED)
    kind = rng.choice(["minutes", "policy", "training record", "audit report"])
    content = (
        f"Simulated {kind} for {action_id}, dated {day.date()}.\n"
        f"Reference {rng.getrandbits(64):016x}. Contains no personal data.\n"
    ).encode()
    blob = store.put(BytesIO(content))
    return officer.attach_evidence(
        action_id,
        {
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": "text/plain",
            "original_name": f"{action_id}-{kind.replace(' ', '-')}-{day.date()}.txt",
            "description": f"{kind.capitalize()} ({day:%B %Y})",
            "storage_key": blob.storage_key,
            "effective_date": day.date().isoformat(),
        },
    )


def _program() -> str:
    """How the user can run this command again (e.g. .venv/bin/inquiry-ledger after make demo)."""
    invoked = Path(sys.argv[0])
    if invoked.name != "inquiry-ledger":
        return "inquiry-ledger"
    try:
        return str(invoked.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked)


def _show(ledger: Ledger, config: LedgerConfig) -> int:
    replay = Replay().feed(ledger.entries())
    when = replay.last_timestamp or END
    status = status_from(replay, as_of=f"{when:%d %B %Y}", today=when.date())
    plan = ledger.plan()
    present = {r.number for r in status.recommendations}
    expected = plan.recommendations_expected if plan else 0
    print()
    print(render_status(status, missing=[n for n in range(1, expected + 1) if n not in present]))
    vkey = VerifierKey.parse(config.log_vkey_path.read_text())
    report = verify_ledger(ledger, vkey, workers=1)
    latest = ledger.latest_checkpoint()
    print()
    print(
        f"Verification: {report.entries} entries, {report.signatures_verified} signatures, "
        f"{report.rules_checked} rules, {report.checkpoints_verified} signed checkpoints: "
        + ("OK" if report.ok else f"FAILED ({report.first_problem()})")
    )
    if latest is not None:
        print("Latest checkpoint (long signature lines cut short here):")
        for line in latest.note.rstrip("\n").split("\n"):
            print("  " + (line if len(line) <= 120 else line[:100] + "..."))
    print()
    print("The plan is from the public record; the history is simulated.")
    show_the_past(ledger, START)
    program = _program()
    print(f"Try: {program} --home {config.home} status --as-of 2023-07-13 --actions")
    print(f"     {program} --home {config.home} status --as-of 2022-11-10 --occurred --actions")
    print(f"     {program} --home {config.home} history R10.1")
    print(f"     {program} --home {config.home} verify")
    print(
        f"     {program} --home {config.home} export --out bundle.zip && {program} "
        f"verify-bundle bundle.zip --log-key {config.log_vkey_path} "
        f"--pq-log-key {config.home / 'log-pq.vkey'} --trust {config.home / 'trust.keys'}"
    )
    print(
        f"     INQUIRY_LEDGER_PUBLIC=on {program} --home {config.home} serve, then open "
        "http://127.0.0.1:8000/public (the public tracker, checked in your browser)"
    )
    return 0 if report.ok else 1
