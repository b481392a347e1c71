"""Reminders: digests, escalation, SMTP delivery to a real local server, signed records.

Every test sends to a real aiosmtpd server on 127.0.0.1 (a free port) and runs on SQLite
and PostgreSQL (the `config` fixture)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from api.application.digest_mail import meaning
from api.application.mailer import SmtpConfigError, SmtpSettings
from api.application.remind import RemindOptions, remind
from domain import InvalidInput, NotPermitted, Reminders, Status
from domain.reminders import add_months, escalation_level, reminders_aggregate_id
from ledger.auditor import audit
from ledger.bundle import export_bundle
from ledger.verify import verify_ledger
from tests.support.clock import Clock
from tests.support.world import World, make_world

AS_OF = datetime.now(UTC).date()
SENDER = "ledger@inquiry.example"
CONTACTS = {
    "council.officer": "officer@council.example",
    "council.lead": "lead@council.example",
    "police.lead": "lead@police.example",
    "police.officer": "officer@police.example",
    "sig": "sig@inquiry.example",
    "scrutiny": "scrutiny@inquiry.example",
    # the chair has no address: reported, never silently dropped
}


# -- a real SMTP server ------------------------------------------------------------------


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts, and refuses on demand."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse_rcpt: set[str] = field(default_factory=set)
    refuse_data: bool = False

    async def handle_RCPT(  # aiosmtpd calls its hooks by these names
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return "554 5.6.0 message refused"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings("127.0.0.1", port, SENDER, timeout=10)
    finally:
        controller.stop()


# -- a plan with every kind of action ----------------------------------------------------


def _add(world: World, action_id: str, lead: str, due: date | None) -> None:
    world.client("sig").add_action(
        {
            "action_id": action_id,
            "recommendation": int(action_id[1:].split(".")[0]),
            "title": f"Action {action_id}",
            "lead_agency": lead,
            "lead_officers": ["Lead"],
            "expected_outcome": "Done",
            "evidence_required": "Minutes",
            "due_date": due.isoformat() if due else None,
        }
    )


@pytest.fixture
def world(config: Any) -> Iterator[World]:
    # a few minutes back, so that the plan is recorded by the end of AS_OF whenever this runs
    w = make_world(config, Clock(datetime.now(UTC) - timedelta(minutes=3)))
    _add(w, "R1.1", "council", AS_OF + timedelta(days=15))  # due soon
    _add(w, "R1.2", "council", AS_OF - timedelta(days=20))  # newly overdue: level 0
    _add(w, "R1.3", "council", add_months(AS_OF, -4))  # level 1
    _add(w, "R1.4", "council", add_months(AS_OF, -7))  # level 2
    _add(w, "R1.5", "council", add_months(AS_OF, -10))  # level 3
    _add(w, "R1.6", "council", add_months(AS_OF, -10))  # withdrawn: never chased
    _add(w, "R1.7", "council", add_months(AS_OF, -10))  # chair's outcome: never chased
    _add(w, "R1.8", "council", AS_OF + timedelta(days=60))  # not due within 30 days
    _add(w, "R1.9", "council", None)  # no due date
    _add(w, "R2.1", "police", AS_OF + timedelta(days=3))  # police: due soon
    w.client("sig").withdraw("R1.6", "duplicate of R1.5")
    w.client("chair").change_status("R1.7", Status.NOT_IMPLEMENTABLE, "needs legislation")
    w.client("council.lead").assign("R1.2", "council.officer")
    yield w
    w.ledger.close()


def _options(**overrides: Any) -> RemindOptions:
    return RemindOptions(as_of=AS_OF, **overrides)


def _send(world: World, settings: SmtpSettings, user: str = "sig", **overrides: Any) -> Any:
    return remind(
        world.ledger,
        _options(**overrides),
        contacts=CONTACTS,
        signer=world.signer(user),
        smtp=settings,
    )


def _records(world: World, agency: str) -> list[Any]:
    reminders = world.ledger.get(reminders_aggregate_id(agency))
    return [] if reminders is None else list(reminders.digests)


# -- the escalation ladder ---------------------------------------------------------------


def test_months_are_calendar_months_and_levels_follow_the_intervals() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 15), -4) == date(2023, 11, 15)
    due = date(2024, 1, 10)
    assert escalation_level(due, date(2024, 4, 9), (3, 6, 9)) == 0
    assert escalation_level(due, date(2024, 4, 10), (3, 6, 9)) == 1
    assert escalation_level(due, date(2024, 7, 10), (3, 6, 9)) == 2
    assert escalation_level(due, date(2024, 10, 10), (3, 6, 9)) == 3
    assert escalation_level(due, date(2024, 10, 10), (3, 6, 7, 9)) == 4
    # the top level is the formal statement request; IICSA's 7-month letter is not
    assert [meaning(k, 4) for k in (2, 3, 4)] == [
        "escalated to the chair",
        "escalated further; scrutiny told",
        "formal statement request; flagged for scrutiny",
    ]
    assert meaning(3, 3).startswith("formal") and meaning(2, 2) == "escalated to the chair"


# -- digests -----------------------------------------------------------------------------


def test_digests_hold_due_and_overdue_actions_at_their_levels(world: World) -> None:
    outcomes = remind(world.ledger, _options(dry_run=True), contacts=CONTACTS)
    assert [o.agency for o in outcomes] == ["council", "police"]
    council = outcomes[0].digest
    assert council is not None
    levels = {item.action_id: (item.level, item.overdue) for item in council.items}
    assert levels == {
        "R1.1": (0, False),
        "R1.2": (0, True),
        "R1.3": (1, True),
        "R1.4": (2, True),
        "R1.5": (3, True),
    }  # withdrawn, chair's outcome, due later and undated actions are not chased
    audience = [(r.user_id, r.reason) for r in council.recipients]
    assert audience == [
        ("council.officer", "officer"),
        ("council.lead", "agency_lead"),
        ("sig", "implementation_group"),
        ("chair", "chair"),
        ("scrutiny", "scrutiny"),
    ]
    assert outcomes[0].unreachable == ["chair"]
    body = outcomes[0].body
    assert "Level 3: overdue 9 months or more (formal statement request" in body
    assert "Due within 30 days" in body and "R1.1" in body and "R1.6" not in body
    police = outcomes[1].digest
    assert police is not None
    assert [(i.action_id, i.days) for i in police.items] == [("R2.1", 3)]
    # level 0 only: the agency's own people, no reviewers, no other agency
    assert [r.user_id for r in police.recipients] == ["police.lead"]


def test_a_lower_level_reaches_fewer_people_and_an_agency_filter_applies(world: World) -> None:
    (outcome,) = remind(
        world.ledger,
        _options(dry_run=True, agency="council", escalate_months=(6, 12, 18)),
        contacts=CONTACTS,
    )
    digest = outcome.digest
    assert digest is not None
    levels = {i.action_id: i.level for i in digest.items}
    assert levels["R1.5"] == 1 and levels["R1.4"] == 1 and levels["R1.3"] == 0
    assert [r.user_id for r in digest.recipients] == [
        "council.officer",
        "council.lead",
        "sig",
    ]


# -- sending and recording ---------------------------------------------------------------


def test_each_accepted_digest_is_recorded_signed_and_verifies(
    world: World, smtp: tuple[Inbox, SmtpSettings], tmp_path: Path
) -> None:
    inbox, settings = smtp
    outcomes = _send(world, settings)
    assert [o.state for o in outcomes] == ["sent", "sent"]
    assert len(inbox.messages) == 2
    rcpts, message = inbox.messages[0]
    assert sorted(rcpts) == sorted(
        CONTACTS[u] for u in ("council.officer", "council.lead", "sig", "scrutiny")
    )
    assert message["To"] == "officer@council.example, lead@council.example"
    assert message["Cc"] == "sig@inquiry.example, scrutiny@inquiry.example"
    assert message["Auto-Submitted"] == "auto-generated"
    (record,) = _records(world, "council")
    events = world.ledger.aggregate_events(reminders_aggregate_id("council"))
    payload = events[0].payload()
    assert events[0].actor == "sig" and type(events[0]) is Reminders.DigestSent
    assert payload["recipients"] == ["council.officer", "council.lead", "sig", "scrutiny"]
    assert payload["unreachable"] == ["chair"]
    assert payload["message_id"] == message["Message-ID"] == outcomes[0].message_id
    body = message.get_content().replace("\r\n", "\n")
    assert payload["body_sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert {a["action_id"]: a["level"] for a in payload["actions"]}["R1.5"] == 3
    assert "@" not in str(payload["recipients"]) + str(payload["unreachable"])
    assert record.sent_by == "sig" and len(_records(world, "police")) == 1
    # the whole log still verifies, and so does an exported bundle with the auditor
    world.checkpoint()
    assert verify_ledger(world.ledger, world.vkey).ok
    export_bundle(world.ledger, world.vkey.encode(), tmp_path / "bundle")
    report = audit(tmp_path / "bundle", log_key=world.vkey.encode(), trust=world.trust)
    assert report.ok, (report.problems, report.unpinned)


def test_nothing_is_recorded_when_the_server_is_down(world: World) -> None:
    down = SmtpSettings("127.0.0.1", _free_port(), SENDER, timeout=5)
    size = world.ledger.tree_size()
    outcomes = _send(world, down)
    assert [o.state for o in outcomes] == ["not_sent", "not_attempted"]
    assert "cannot reach the SMTP server 127.0.0.1" in outcomes[0].detail
    assert world.ledger.tree_size() == size
    assert _records(world, "council") == [] and _records(world, "police") == []


def test_nothing_is_recorded_for_a_refused_message(
    world: World, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    inbox.refuse_data = True
    size = world.ledger.tree_size()
    outcomes = _send(world, settings)
    # a refusal is per message: the next agency is still tried (and refused too)
    assert [o.state for o in outcomes] == ["not_sent", "not_sent"]
    assert "refused the message (code 554)" in outcomes[0].detail
    assert world.ledger.tree_size() == size and inbox.messages == []


def test_a_refused_recipient_is_recorded_as_unreachable(
    world: World, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    inbox.refuse_rcpt = {CONTACTS["scrutiny"]}
    outcomes = _send(world, settings, agency="council")
    assert outcomes[0].state == "sent"
    (record,) = _records(world, "council")
    assert "scrutiny" not in record.recipients
    assert record.unreachable == ("chair", "scrutiny")


def test_the_same_digest_is_not_resent_within_the_window(
    world: World, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    assert [o.state for o in _send(world, settings)] == ["sent", "sent"]
    again = _send(world, settings)
    assert [o.state for o in again] == ["repeat", "repeat"]
    assert "within 7 days" in again[0].detail and len(inbox.messages) == 2
    # a change of content is news: a new action due soon for the police
    _add(world, "R2.2", "police", AS_OF + timedelta(days=10))
    assert [o.state for o in _send(world, settings)] == ["repeat", "sent"]
    # --repeat-after 0 always sends; after the window the same content goes again
    assert _send(world, settings, agency="council", repeat_after_days=0)[0].state == "sent"
    world.clock.advance(days=8)
    assert _send(world, settings, agency="council")[0].state == "sent"
    assert len(_records(world, "council")) == 3 and len(inbox.messages) == 5
    world.checkpoint()  # later records extend the agency's aggregate; all still verify
    assert verify_ledger(world.ledger, world.vkey).ok


def _self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 and its key, in one PEM file (a relay's private CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "relay.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_starttls_and_login_deliver_and_failures_record_nothing(
    world: World, tmp_path: Path
) -> None:
    pem = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem)
    inbox, port = Inbox(), _free_port()

    def authenticator(*args: Any) -> AuthResult:
        data = args[-1]
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"ledger",
            b"right-password",
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        good = SmtpSettings(
            "127.0.0.1", port, SENDER, True, "ledger", "right-password", 10, str(pem)
        )
        assert _send(world, good, agency="police")[0].state == "sent"
        wrong_password = replace(good, password="wrong-password")
        (refused,) = _send(world, wrong_password, agency="council")
        assert refused.state == "not_sent" and "refused the login (code 535)" in refused.detail
        (untrusted,) = _send(world, replace(good, ca_file=None), agency="council")
        assert "TLS with the SMTP server" in untrusted.detail
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and _records(world, "council") == []
    assert len(_records(world, "police")) == 1


def test_a_digest_nobody_can_receive_is_not_sent(
    world: World, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    outcomes = remind(
        world.ledger,
        _options(agency="police"),
        contacts={"council.lead": CONTACTS["council.lead"]},
        signer=world.signer("sig"),
        smtp=settings,
    )
    assert [(o.state, o.unreachable) for o in outcomes] == [("not_sent", ["police.lead"])]
    assert "no recipient has an email address" in outcomes[0].detail
    assert inbox.messages == [] and _records(world, "police") == []


def test_smtp_settings_come_from_the_environment_and_hide_the_password() -> None:
    env = {
        "INQUIRY_LEDGER_SMTP_HOST": "mail.example",
        "INQUIRY_LEDGER_SMTP_FROM": SENDER,
        "INQUIRY_LEDGER_SMTP_STARTTLS": "on",
        "INQUIRY_LEDGER_SMTP_USER": "ledger",
        "INQUIRY_LEDGER_SMTP_PASSWORD": "hunter2-secret",
    }
    settings = SmtpSettings.from_env(env)
    assert (settings.port, settings.starttls, settings.timeout) == (587, True, 30.0)
    assert "hunter2" not in repr(settings)
    for name, value, words in (
        ("INQUIRY_LEDGER_SMTP_PORT", "70000", "between 1 and 65535"),
        ("INQUIRY_LEDGER_SMTP_STARTTLS", "maybe", "on or off"),
        ("INQUIRY_LEDGER_SMTP_FROM", "Ledger <x@y.example>", "plain address"),
        ("INQUIRY_LEDGER_SMTP_TIMEOUT", "soon", "must be a number"),
        ("INQUIRY_LEDGER_SMTP_CA_FILE", "/nonexistent/ca.pem", "CA_FILE /nonexistent/ca.pem"),
    ):
        with pytest.raises(SmtpConfigError, match=words):
            SmtpSettings.from_env({**env, name: value})


@pytest.mark.parametrize("user", ["council.lead", "chair", "scrutiny"])
def test_only_the_implementation_group_and_admins_send(
    world: World, smtp: tuple[Inbox, SmtpSettings], user: str
) -> None:
    inbox, settings = smtp
    with pytest.raises(NotPermitted) as refused:
        _send(world, settings, user=user)
    assert refused.value.rule == "reminder.send"
    assert inbox.messages == [] and _records(world, "council") == []
    assert [o.state for o in _send(world, settings, user="admin")] == ["sent", "sent"]


def test_the_ledger_refuses_a_misstated_record(world: World) -> None:
    """The rule re-derives levels from the dates, and keeps other agencies' people out."""
    good: dict[str, Any] = {
        "agency": "council",
        "as_of": AS_OF.isoformat(),
        "within_days": 30,
        "escalate_months": [3, 6, 9],
        "actions": [
            {
                "action_id": "R1.5",
                "due_date": add_months(AS_OF, -10).isoformat(),
                "level": 3,
                "overdue": True,
            }
        ],
        "recipients": ["council.lead"],
        "unreachable": [],
        "message_id": "<1.reminder@inquiry.example>",
        "body_sha256": "0" * 64,
    }
    aggregate = reminders_aggregate_id("council")
    sig = world.signer("sig")
    bad_level = {**good, "actions": [{**good["actions"][0], "level": 1}]}
    other_agency = {**good, "recipients": ["police.lead"]}
    wrong_id = {**good, "agency": "police"}
    for payload, words in (
        (bad_level, "escalation level must be 3"),
        (other_agency, "police.lead (agency_lead) may not receive"),
        (wrong_id, "belong to their own id"),
    ):
        with pytest.raises(InvalidInput, match=re.escape(words)):
            world.ledger.append([sig.sign(Reminders.DigestSent.TYPE, aggregate, 1, payload)])
    world.ledger.append([sig.sign(Reminders.DigestSent.TYPE, aggregate, 1, good)])
    assert len(_records(world, "council")) == 1


def test_the_ledger_refuses_a_misstated_chase_of_actions_arising(world: World) -> None:
    """`reminder.arisings_chased`: the same re-derived levels and audience as a digest,
    its items actions arising by id (SESSION.N), never actions."""
    item = {"arising_id": "sig-1.1", "due_date": add_months(AS_OF, -4).isoformat()}
    good: dict[str, Any] = {
        "agency": "council",
        "as_of": AS_OF.isoformat(),
        "within_days": 30,
        "escalate_months": [3, 6, 9],
        "arisings": [{**item, "level": 1, "overdue": True}],
        "recipients": ["council.lead", "sig"],
        "unreachable": [],
        "message_id": "<1.arisings@inquiry.example>",
        "body_sha256": "0" * 64,
    }
    aggregate = reminders_aggregate_id("council")
    sig = world.signer("sig")
    kind = Reminders.ArisingsChased.TYPE
    for payload, words in (
        ({**good, "arisings": [{**item, "level": 2, "overdue": True}]}, "level must be 1"),
        ({**good, "arisings": [{**item, "level": 1, "overdue": False}]}, "overdue must be True"),
        ({**good, "arisings": [{"action_id": "R1.1", **good["arisings"][0]}]}, "each action"),
        ({**good, "arisings": [{**good["arisings"][0], "arising_id": "x"}]}, "is not SESSION.N"),
        (
            {**good, "arisings": [{**good["arisings"][0], "arising_id": "Jane Doe told us."}]},
            "arising_id must be 1-64 characters",
        ),
        ({**good, "arisings": []}, "at least one action arising"),
        ({**good, "recipients": ["police.lead"]}, "police.lead (agency_lead) may not receive"),
    ):
        with pytest.raises(InvalidInput, match=re.escape(words)):
            world.ledger.append([sig.sign(kind, aggregate, 1, payload)])
    officer = world.signer("council.officer")
    with pytest.raises(NotPermitted, match="send reminders"):
        world.ledger.append([officer.sign(kind, aggregate, 1, good)])
    world.ledger.append([sig.sign(kind, aggregate, 1, good)])
    reminders = world.ledger.get(aggregate)
    assert [r.items for r in reminders.arising_chases] == [
        (("sig-1.1", item["due_date"], 1, True),)
    ]


# -- the command line --------------------------------------------------------------------


def _cli_setup(world: World, tmp_path: Path) -> tuple[list[str], Path]:
    key = tmp_path / "sig.key"
    world.keys["sig"].write(key)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "user_id,email\n" + "".join(f"{u},{a}\n" for u, a in CONTACTS.items()), encoding="utf-8"
    )
    return ["--as", "sig", "--key", str(key)], contacts


def _smtp_env(monkeypatch: pytest.MonkeyPatch, settings: SmtpSettings) -> None:
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_HOST", settings.host)
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_PORT", str(settings.port))
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_FROM", SENDER)
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_TIMEOUT", "5")
    monkeypatch.delenv("INQUIRY_LEDGER_SMTP_STARTTLS", raising=False)
    monkeypatch.delenv("INQUIRY_LEDGER_SMTP_USER", raising=False)
    monkeypatch.delenv("INQUIRY_LEDGER_SMTP_PASSWORD", raising=False)


def test_cli_sends_reports_and_verify_passes(
    world: World,
    cli: Any,
    smtp: tuple[Inbox, SmtpSettings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, settings = smtp
    signer, contacts = _cli_setup(world, tmp_path)
    _smtp_env(monkeypatch, settings)
    code, out, err = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 0, err
    assert "council: sent to council.officer, council.lead, sig, scrutiny (<" in out
    assert "police: sent to police.lead (<" in out and "recorded as entry" in out
    assert "council: not reached (no address or refused): chair" in err
    assert not [a for a in CONTACTS.values() if a in out + err]  # user ids, never addresses
    code, out, _ = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 0 and "council: skipped: the same digest was sent" in out
    assert len(inbox.messages) == 2
    assert cli("checkpoint")[0] == 0
    code, out, err = cli("verify")
    assert code == 0 and "OK" in out, err
    # the read models take reminder records in their stride
    code, out, err = cli("status", "--actions")
    assert code == 0 and "R1.5" in out, err
    code, out, err = cli("diff", "--from", "2020-01-01", "--to", (AS_OF + timedelta(1)).isoformat())
    assert code == 0, err


def test_cli_dry_run_prints_and_sends_nothing(
    world: World, cli: Any, smtp: tuple[Inbox, SmtpSettings], tmp_path: Path
) -> None:
    inbox, _ = smtp
    _, contacts = _cli_setup(world, tmp_path)
    size = world.ledger.tree_size()
    code, out, err = cli("remind", "--dry-run", "--contacts", str(contacts), "--agency", "police")
    assert code == 0, err
    assert "=== police (dry run: not sent, not recorded)" in out
    assert "to: police.lead (agency lead)" in out and "R2.1" in out and "R1.1" not in out
    assert inbox.messages == [] and world.ledger.tree_size() == size
    assert "/actions/" not in out  # no links without the pages' address
    base = ["--base-url", "https://ledger.example/"]
    code, out, err = cli(
        "remind", "--dry-run", "--contacts", str(contacts), "--agency", "police", *base
    )
    assert code == 0 and "\n           https://ledger.example/actions/R2.1\n" in out, err


def test_cli_errors_are_clear_and_record_nothing(
    world: World,
    cli: Any,
    smtp: tuple[Inbox, SmtpSettings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, settings = smtp
    signer, contacts = _cli_setup(world, tmp_path)
    size = world.ledger.tree_size()
    monkeypatch.delenv("INQUIRY_LEDGER_SMTP_HOST", raising=False)
    code, _, err = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 4 and "set INQUIRY_LEDGER_SMTP_HOST" in err
    _smtp_env(monkeypatch, settings)
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_USER", "ledger")
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_PASSWORD", "hunter2-secret")
    code, out, err = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 4 and "unencrypted" in err and "hunter2" not in out + err
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_STARTTLS", "on")
    code, out, err = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 5 and "does not offer STARTTLS" in err and "hunter2" not in out + err
    _smtp_env(monkeypatch, settings)
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_PORT", str(_free_port()))
    code, _, err = cli(*signer, "remind", "--contacts", str(contacts))
    assert code == 5 and "cannot reach the SMTP server" in err
    assert "police: NOT SENT: SMTP server unreachable" in err
    _smtp_env(monkeypatch, settings)
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,email\nsig,not an address\nsig,sig@x.example\n")
    code, _, err = cli(*signer, "remind", "--contacts", str(bad))
    assert code == 2 and "line 2: the email of sig is not a plain address" in err
    assert "line 3: sig is listed twice" not in err  # a bad line does not count as listed
    assert "not an address" not in err  # the address itself is never echoed
    code, _, err = cli(*signer, "remind", "--contacts", str(tmp_path / "none.csv"))
    assert code == 2 and "no contacts file" in err
    code, _, err = cli(*signer, "remind", "--contacts", str(contacts), "--escalate", "6,3")
    assert code == 2 and "must increase" in err
    code, _, err = cli(*signer, "remind", "--contacts", str(contacts), "--agency", "nhs")
    assert code == 2 and "no agency 'nhs'" in err
    lead_key = tmp_path / "lead.key"
    world.keys["council.lead"].write(lead_key)
    code, _, err = cli(
        "--as", "council.lead", "--key", str(lead_key), "remind", "--contacts", str(contacts)
    )
    assert code == 3 and "[rule: reminder.send]" in err
    code, _, err = cli("--server", "http://127.0.0.1:9", "--token", "t", *signer, "remind")
    assert code == 2 and "not in client mode" in err
    assert inbox.messages == [] and world.ledger.tree_size() == size
