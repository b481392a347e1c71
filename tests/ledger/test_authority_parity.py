"""Who may sign what, implemented twice on purpose: by the domain (domain/charter.py,
domain/directory.py and each event's rule) and by the standalone auditor
(ledger/auditor/authority.py), which must not import the domain. They must agree.

- The appointer choices are the same, by role name, and both read every charter table
  the choices allow (and one they do not) as naming the same appointer for each role.
- For every event type and every role of signer (and, where the auditor's answer
  depends on the payload or the charter: the sign-off level, the role being registered,
  the role of the user whose key is changed, whether signers change their own key,
  and each charter table, or none yet), the auditor's `allowed_roles` admits the role
  exactly when the domain accepts that event from a signer in that role in some state
  the event can follow. Each case is a test of its own, so a disagreement names it.
- Officers and agency leads of another agency: the auditor's `scoped_to_agency` says
  the domain refuses them what it accepts from the lead agency's; and after an action's
  transfer to another agency (`action.lead_agency_transferred`) both follow it: the new
  agency's are admitted where the old agency's were, the old agency's no longer.
- The self-signed entries (SELF_SIGNED) make their signer the role the auditor allows,
  and what the domain lets an administrator sign is exactly OPERATIONAL.

The states come from a World (tests/support/world.py) built once: an action in each
status the rules start from, a second user of every role but the chair, and a spare key
for the chair (the domain never revokes the chair's last key, a rule about the state
that `verify-bundle --rules` replays and the authority table rightly leaves out). So only
who signs decides each case. The rules are run on the states in memory, never appended;
the database only builds them, so this runs on SQLite alone.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import (
    DIRECTORY_ID,
    PLAN_ID,
    Action,
    Actor,
    Challenge,
    Directory,
    DomainError,
    Plan,
    Role,
    RuleContext,
    Status,
    action_aggregate_id,
    challenge_aggregate_id,
    event_types,
)
from domain.charter import APPOINTER_CHOICES as DOMAIN_CHOICES
from domain.charter import DEFAULT_APPOINTERS, Charter, parse_appointers, require_appointer
from domain.directory import KeyRecord
from domain.lifecycle import SignOffLevel
from domain.reminders import reminders_aggregate_id
from domain.session import Session, session_aggregate_id
from ledger.auditor.authority import (
    APPOINTER_CHOICES,
    AUTHORITY,
    OPERATIONAL,
    SELF_SIGNED,
    allowed_roles,
    appointer_of,
    scoped_to_agency,
)
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.entry import GENESIS_TYPE
from ledger.auditor.roots import Member, Roots
from ledger.auditor.signers import Signers
from ledger.config import LedgerConfig
from ledger.entry import to_domain_event
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.clock import Clock
from tests.support.world import ORIGIN, World, make_world

ROLES = [role.value for role in Role]
AGENCY_ROLES = ["officer", "agency_lead"]
#: The signer of each role (agency roles: of council, which leads every action here)...
SIGNER = {
    "officer": "council.officer",
    "agency_lead": "council.lead",
    "implementation_group": "sig",
    "chair": "chair",
    "scrutiny": "scrutiny",
    "lived_experience": "consultee",
    "admin": "admin",
}
#: ...a second holder of each role (there is one chair), whose key another may change...
SECOND = {
    "officer": "council.officer2",
    "agency_lead": "council.lead2",
    "implementation_group": "sig2",
    "scrutiny": "scrutiny2",
    "lived_experience": "consultee2",
    "admin": "admin2",
}
#: ...and the officer and lead of the agency that leads none of the actions.
OTHER_AGENCY = {"officer": "police.officer", "agency_lead": "police.lead"}
#: An action (led by council) in each status the rules start from.
ACTIONS = {
    "not_started": "R1.1",
    "in_progress": "R1.2",
    "blocked": "R1.3",
    "evidence_submitted": "R1.4",
    "agency_signed_off": "R1.5",
    "accepted": "R1.6",
    "verified": "R1.7",
    "not_implementable": "R1.8",
}
#: An action in progress whose evidence is published (the state an unpublication follows).
PUBLISHED = "R1.9"
#: A formal response (to recommendation 1, or to an action), in the default vocabulary.
RESPONSE = {
    "response": "accepted_in_principle",
    "responded_on": "2023-03-01",
    "responder": "Telford & Wrekin Council",
    "reasons": "subject to funding",
    "source": "",
}


def _tables() -> dict[str, dict[str, str] | None]:
    """Every appointer table the choices allow, named by the choices that differ (agency
    leads and scrutiny), and no charter at all."""
    tables: dict[str, dict[str, str] | None] = {}
    roles = [role.value for role in DOMAIN_CHOICES]
    choices = [sorted(by.value for by in DOMAIN_CHOICES[Role(role)]) for role in roles]
    for choice in itertools.product(*choices):
        table = dict(zip(roles, choice, strict=True))
        name = ", ".join(
            f"{role} by {table[role]}" for role in roles if len(DOMAIN_CHOICES[Role(role)]) > 1
        )
        tables[name] = table
    tables["no charter yet"] = None
    return tables


TABLES = _tables()
DEFAULT_TABLE = next(name for name, table in TABLES.items() if table == dict(DEFAULT_APPOINTERS))
LEVELS = [level.value for level in SignOffLevel]
#: The state a sign-off at each level follows, and the state its revocation follows.
SIGN_OFF_FROM = {
    "agency": "evidence_submitted",
    "implementation_group": "agency_signed_off",
    "chair": "accepted",
}
REVOKE_FROM = {
    "agency": "agency_signed_off",
    "implementation_group": "accepted",
    "chair": "verified",
}
#: Signed by the user they name or by whoever appoints that user (the auditor's
#: KEYHOLDER_KINDS), and reactivation, signed by the appointer alone.
KEYHOLDER_KINDS = (
    "directory.key_rotated",
    "directory.key_revoked",
    "directory.key_added",
    "directory.user_deactivated",
    "directory.user_reactivated",
)
ROLE_CHANGE = "directory.user_role_changed"
DIRECTORY_KINDS = {"directory.user_registered", ROLE_CHANGE, *KEYHOLDER_KINDS}
BY_LEVEL = {"action.signed_off", "action.sign_off_revoked"}


# -- the states ------------------------------------------------------------------------------


@dataclass
class States:
    directory: Directory
    plan: Plan
    actions: dict[str, Action]
    keys: dict[str, KeyPair] = field(default_factory=dict)
    #: The directory with a second active key for the chair: the domain never lets the
    #: chair's last key be revoked (directory.last_chair_key, a rule about the state that
    #: the rules replay checks), so the chair's revocation of a key is asked about here.
    chair_with_a_spare_key: Directory | None = None
    #: An action (in progress, led by council) whose evidence its lead has published: the
    #: state an unpublication follows.
    published: Action | None = None
    #: A challenge to council (on R1) raised by each of scrutiny, sig and chair: the
    #: states an answer, a closing and an escalation follow (only the challenger closes).
    challenges: list[Challenge] = field(default_factory=list)


def with_a_spare_chair_key(directory: Directory) -> Directory:
    spared = copy.deepcopy(directory)
    chair = spared.users["chair"]
    spare = KeyPair.generate()
    public = encode_public_key(spare.public_key)
    chair.keys[spare.key_id] = KeyRecord(spare.key_id, public, datetime(2023, 1, 1, tzinfo=UTC))
    spared.key_owner[spare.key_id] = "chair"
    return spared


def with_user_deactivated(directory: Directory, user_id: str) -> Directory:
    """The directory as it would be had `user_id` been deactivated (the state their
    reactivation follows); the chair never is, so only a direct change makes it so."""
    changed = copy.deepcopy(directory)
    user = changed.users[user_id]
    user.deactivated_at = datetime(2023, 1, 1, tzinfo=UTC)
    user.deactivated_reason = "left"
    for key in user.active_keys():
        key.revoked_at = user.deactivated_at
    return changed


def with_keys_revoked(directory: Directory, user_id: str) -> Directory:
    """The directory as it would be had every key of `user_id` been revoked."""
    changed = copy.deepcopy(directory)
    for key in changed.users[user_id].active_keys():
        key.revoked_at = datetime(2023, 1, 1, tzinfo=UTC)
    return changed


def _drive(world: World, action_id: str, status: str) -> None:
    """Take a new action (led by council) to `status` by the legal steps."""
    officer = world.client("council.officer")
    if status == "not_started":
        return
    officer.change_status(action_id, Status.IN_PROGRESS)
    if status == "not_implementable":
        world.client("chair").change_status(action_id, Status.NOT_IMPLEMENTABLE, "abolished")
        return
    world.evidence(action_id, f"minutes of {action_id}".encode())
    if status == "blocked":
        officer.change_status(action_id, Status.BLOCKED, "no budget")
    if status in ("in_progress", "blocked"):
        return
    officer.change_status(action_id, Status.EVIDENCE_SUBMITTED)
    for level, signer in (("agency", "council.lead"), ("implementation_group", "sig")):
        if status == SIGN_OFF_FROM[level]:
            return
        world.client(signer).sign_off(action_id, f"{level} is satisfied")
    if status == "verified":
        world.client("chair").sign_off(action_id, "verified")


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[States]:
    config = LedgerConfig(home=Path(tmp_path_factory.mktemp("parity")) / "home")
    world = make_world(config, Clock())
    try:
        for role, user in (("lived_experience", "consultee"), *SECOND.items()):
            world.keys[user] = KeyPair.generate()
            appointer = {"officer": "council.lead", "admin": "admin"}.get(role, "chair")
            agency = "council" if role in AGENCY_ROLES else None
            world.client(appointer).register_user(
                user, user.title(), role, agency, world.keys[user].public_key
            )
        for status, action_id in ACTIONS.items():
            world.add_action(action_id)
            _drive(world, action_id, status)
        actions = {s: world.ledger.action(a) for s, a in ACTIONS.items()}
        assert all(a is not None and a.status.value == s for s, a in actions.items())
        world.add_action(PUBLISHED)
        _drive(world, PUBLISHED, "in_progress")
        [sha] = world.ledger.action(PUBLISHED).current_evidence()  # type: ignore[union-attr]
        world.client("council.lead").publish_evidence(PUBLISHED, sha, "no personal data")
        published = world.ledger.action(PUBLISHED)
        assert published is not None and published.published_evidence() == [sha]
        directory, plan = world.ledger.directory(), world.ledger.plan()
        assert directory is not None and plan is not None
        spared = with_a_spare_chair_key(directory)
        found = States(directory, plan, actions, dict(world.keys), spared)  # type: ignore[arg-type]
        found.published = published
        for number, raiser in enumerate(("scrutiny", "sig", "chair", "consultee"), start=1):
            world.client(raiser).raise_challenge(f"C{number}", "R1", "council", "Why?")
            found.challenges.append(world.ledger.get(challenge_aggregate_id(f"C{number}")))
        yield found
    finally:
        world.ledger.close()


def under(directory: Directory, table: dict[str, str] | None) -> Directory:
    """The directory as it would be had the charter named `table` (None: no charter)."""
    changed = copy.copy(directory)
    assert directory.charter is not None
    changed.charter = (
        None
        if table is None
        else dataclasses.replace(directory.charter, appointers=parse_appointers(table, "test"))
    )
    return changed


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str
    role: str  # the signer's role
    level: str | None = None  # signed_off, sign_off_revoked
    registers: str | None = None  # user_registered, user_role_changed: the (new) role
    subject: str | None = None  # KEYHOLDER_KINDS, user_role_changed: the user's role
    own: bool = False  # KEYHOLDER_KINDS: the signer's own key (or self)
    table: str = DEFAULT_TABLE  # a key of TABLES: the charter the directory's events follow

    def __str__(self) -> str:
        parts = [self.kind, f"by {self.role}"]
        if self.level:
            parts.append(f"level {self.level}")
        if self.kind == ROLE_CHANGE:
            parts.append(f"moving a {self.subject} to {self.registers}")
        elif self.registers:
            parts.append(f"registering {self.registers}")
        elif self.subject:
            parts.append("own key" if self.own else f"key of a {self.subject}")
        if self.kind in DIRECTORY_KINDS:
            parts.append(self.table)
        return ", ".join(parts)


SIMPLE_KINDS = sorted(set(event_types()) - SELF_SIGNED - DIRECTORY_KINDS - BY_LEVEL)


def cases() -> list[Case]:
    found = [Case(kind, role) for kind in SIMPLE_KINDS for role in ROLES]
    found += [Case(kind, role, level=lvl) for kind in BY_LEVEL for role in ROLES for lvl in LEVELS]
    for role, table in itertools.product(ROLES, TABLES):
        reg = "directory.user_registered"
        found += [Case(reg, role, registers=new, table=table) for new in ROLES]
        for kind in KEYHOLDER_KINDS:
            found.append(Case(kind, role, subject=role, own=True, table=table))
            found += [
                Case(kind, role, subject=subject, table=table)
                for subject in ROLES
                if subject != "chair" or role != "chair"  # there is one chair
            ]
        found += [
            Case(ROLE_CHANGE, role, subject=subject, registers=new, table=table)
            for subject, new in itertools.product(ROLES, ROLES)
            if (subject != "chair" or role != "chair")
            # A change must change something: within a role only an agency can change,
            # and an officer's agency only by the leads of both agencies, no one signer
            # (the auditor's agency check, Signers.authorised: tests/ledger/
            # test_directory_changes_audit.py), which `allowed_roles` cannot see.
            and (subject != new or new == "agency_lead")
        ]
    return found


CASES = cases()


def _fresh_key() -> str:
    return encode_public_key(KeyPair.generate().public_key)


def _key_holder(case: Case) -> str:
    assert case.subject is not None
    if case.own:
        return SIGNER[case.role]
    first = SIGNER[case.subject]
    return SECOND[case.subject] if first == SIGNER[case.role] else first


Attempt = tuple[Any, UUID, dict[str, Any]]  # (state, aggregate, payload)


def attempts(case: Case, s: States) -> list[Attempt]:
    """Every way this case's event may be made: the state it follows and its payload. The
    domain accepts the case if any of them passes its rule."""
    a, kind = s.actions, case.kind
    payload: dict[str, Any]

    def on(status: str, payload: dict[str, Any]) -> Attempt:
        return a[status], a[status].id, payload

    if kind == "plan.imported":
        agencies = [{"id": "council", "name": "Council"}]
        payload = {"title": "P", "source": "S", "agencies": agencies, "recommendations_expected": 1}
        return [(None, PLAN_ID, payload)]
    if kind == "plan.recommendation_added":
        payload = {"number": 3, "title": "Third", "text": "", "lead_agencies": ["council"]}
        return [(s.plan, PLAN_ID, payload)]
    if kind == "plan.response_recorded":
        payload = {"number": 1, **RESPONSE}
        return [(s.plan, PLAN_ID, payload)]
    if kind == "plan.response_vocabulary_set":
        terms = [{"id": "adopted", "label": "Adopted"}, {"id": "not_adopted", "label": "No"}]
        return [(s.plan, PLAN_ID, {"terms": terms})]
    if kind == "plan.wording_set":
        words = {"report_title": "Annual report"}
        return [(s.plan, PLAN_ID, {"words": words, "reason": "the board's name"})]
    if kind in ("plan.agency_added", "plan.agency_renamed"):
        ident, name = ("ofsted", "Ofsted") if kind == "plan.agency_added" else ("council", "City")
        return [(s.plan, PLAN_ID, {"id": ident, "name": name, "reason": "the plan changed"})]
    if kind == "plan.recommendation_amended":
        payload = {"number": 2, "changes": {"title": "Clearer"}, "reason": "clearer"}
        return [(s.plan, PLAN_ID, payload)]
    if kind == "plan.recommendation_withdrawn":
        return [(s.plan, PLAN_ID, {"number": 2, "reason": "dropped by the inquiry"})]
    if kind == "plan.recommendation_merged":
        return [(s.plan, PLAN_ID, {"number": 2, "into": 1, "reason": "the same work"})]
    if kind == "plan.recommendation_renumbered":
        return [(s.plan, PLAN_ID, {"number": 2, "new_number": 12, "reason": "renumbered"})]
    if kind == "plan.recommendation_referenced":
        payload = {"number": 2, "reference": "113.6", "group": "Phase 2", "reason": "as written"}
        return [(s.plan, PLAN_ID, payload)]
    if kind == "action.response_recorded":
        return [on("in_progress", dict(RESPONSE))]
    if kind == "action.added":
        fields: dict[str, Any] = {
            "title": "T",
            "lead_agency": "police",
            "lead_officers": [],
            "due_date": None,
        }
        fields |= {"action_id": "R2.1", "recommendation": 2}
        fields |= {"expected_outcome": "Done", "evidence_required": "Minutes"}
        return [(None, action_aggregate_id("R2.1"), fields)]
    if kind == "action.amended":
        return [on("not_started", {"changes": {"title": "Clearer"}, "reason": "clearer"})]
    if kind == "action.officer_assigned":
        return [on("not_started", {"officer": "council.officer"})]
    if kind == "action.status_changed":
        return [
            on(before, {"from_status": before, "to_status": after.value, "reason": "because"})
            for before in a
            for after in Status
        ]
    if kind == "action.evidence_attached":
        evidence = {"sha256": "ab" * 32, "size": 3, "media_type": "text/plain"}
        evidence |= {"original_name": "m.txt", "description": "Minutes"}
        evidence |= {"storage_key": "sha256/" + "ab" * 32, "effective_date": "2023-01-01"}
        return [on("not_started", evidence)]
    if kind in ("action.evidence_withdrawn", "action.evidence_erased"):
        sha = a["in_progress"].current_evidence()[0]
        return [on("in_progress", {"sha256": sha, "reason": "wrong file"})]
    if kind == "action.evidence_published":
        sha = a["in_progress"].current_evidence()[0]
        return [on("in_progress", {"sha256": sha, "statement": "holds no personal data"})]
    if kind == "action.evidence_unpublished":
        assert s.published is not None
        sha = s.published.published_evidence()[0]
        return [(s.published, s.published.id, {"sha256": sha, "reason": "published in error"})]
    if kind == "action.signed_off":
        assert case.level is not None
        status = SIGN_OFF_FROM[case.level]
        payload = {"level": case.level, "evidence": a[status].current_evidence(), "statement": "s"}
        return [on(status, payload)]
    if kind == "action.sign_off_revoked":
        assert case.level is not None
        return [on(REVOKE_FROM[case.level], {"level": case.level, "reason": "too soon"})]
    if kind == "action.returned":
        return [
            on(status, {"level": level, "reasons": ["minutes missing"]})
            for status in ("evidence_submitted", "agency_signed_off", "accepted")
            for level in LEVELS
        ]
    if kind == "action.rag_rated":
        return [
            on("in_progress", {"scope": scope, "rating": "green", "reason": "on track"})
            for scope in ("agency", "review")
        ]
    if kind == "action.comment_added":
        return [on("in_progress", {"kind": "comment", "text": "a note"})]
    if kind == "action.narrative_updated":
        update = {"period": "2023-H1", "done": "Trained staff", "next": "Audit", "risks": ""}
        return [on("in_progress", update)]
    if kind == "action.merged":
        return [on("in_progress", {"into": "R1.1", "reason": "a duplicate"})]
    if kind == "action.withdrawn":
        return [on("in_progress", {"reason": "no longer needed"})]
    if kind == "action.lead_agency_transferred":
        return [on("in_progress", {"to_agency": "police", "reason": "responsibility moved"})]
    if kind == "action.backfilled":
        fact = {"status": "in_progress", "occurred_on": "2022-11-10", "note": ""}
        return [on("not_started", fact | {"source": "Report to Full Council, 10 Nov 2022"})]
    if kind == "session.held":
        return [(None, session_aggregate_id("pcc-aa-2023-03"), SESSION | {"chair": "scrutiny"})]
    if kind in SESSION_KINDS:  # each follows a session chaired by each reviewer in turn
        return [(held, held.id, SESSION_KINDS[kind]) for held in _sessions(s)]
    if kind == "challenge.raised":
        payload = {"challenge_id": "C9", "subject": "R1", "agency": "council", "text": "Why?"}
        return [(None, challenge_aggregate_id("C9"), payload)]
    if kind == "challenge.answered":
        first = s.challenges[0]
        return [(first, first.id, {"text": "Because.", "evidence": []})]
    if kind == "challenge.closed":
        return [(c, c.id, {"outcome": "satisfied", "reason": "answered"}) for c in s.challenges]
    if kind == "challenge.escalated":
        return [
            (c, c.id, {"to": to, "reason": "no answer"})
            for c in s.challenges
            for to in ("implementation_group", "chair")
        ]
    if kind == "reminder.digest_sent":
        item = {"action_id": "R1.1", "due_date": "2023-06-30", "level": 0, "overdue": True}
        payload = {"agency": "council", "as_of": "2023-07-01", "within_days": 30}
        payload |= {"escalate_months": [3, 6, 9], "actions": [item]}
        payload |= {"recipients": ["council.officer"], "unreachable": []}
        payload |= {"message_id": "<digest@council.example>", "body_sha256": "0" * 64}
        return [(None, reminders_aggregate_id("council"), payload)]
    if kind == "reminder.update_requested":
        item = {"action_id": "R1.1", "due_date": "2023-06-30", "overdue": True}
        payload = {"agency": "council", "as_of": "2023-07-01", "within_days": 30}
        payload |= {"updated_since": "2023-07-01", "actions": [item]}
        payload |= {"recipients": ["council.officer"], "unreachable": []}
        payload |= {"message_id": "<updates@council.example>", "body_sha256": "0" * 64}
        return [(None, reminders_aggregate_id("council"), payload)]
    if kind == "reminder.arisings_chased":
        item = {"arising_id": "sig-1.1", "due_date": "2023-06-30", "level": 0, "overdue": True}
        payload = {"agency": "council", "as_of": "2023-07-01", "within_days": 30}
        payload |= {"escalate_months": [3, 6, 9], "arisings": [item]}
        payload |= {"recipients": ["council.lead"], "unreachable": []}
        payload |= {"message_id": "<arisings@council.example>", "body_sha256": "0" * 64}
        return [(None, reminders_aggregate_id("council"), payload)]
    if kind == "directory.user_registered":
        assert case.registers is not None
        agency = "council" if case.registers in AGENCY_ROLES else None
        payload = {"user_id": "newcomer", "name": "New", "role": case.registers, "agency": agency}
        return [(s.directory, DIRECTORY_ID, {**payload, "public_key": _fresh_key()})]
    holder = _key_holder(case)
    if kind == "directory.key_rotated":
        payload = {"user_id": holder, "new_public_key": _fresh_key(), "reason": "lost"}
        return [(s.directory, DIRECTORY_ID, payload)]
    if kind == "directory.key_revoked":
        state = s.chair_with_a_spare_key if holder == "chair" else s.directory
        payload = {"user_id": holder, "revoked_key_id": s.keys[holder].key_id, "reason": "lost"}
        return [(state, DIRECTORY_ID, payload)]
    if kind == "directory.key_added":
        # By the holder beside their key; by an appointer only once they hold none.
        payload = {"user_id": holder, "public_key": _fresh_key(), "reason": "a browser key"}
        keyless = with_keys_revoked(s.directory, holder)
        return [(s.directory, DIRECTORY_ID, payload), (keyless, DIRECTORY_ID, payload)]
    if kind == "directory.user_deactivated":
        return [(s.directory, DIRECTORY_ID, {"user_id": holder, "reason": "left"})]
    if kind == "directory.user_reactivated":
        state = with_user_deactivated(s.directory, holder)
        return [(state, DIRECTORY_ID, {"user_id": holder, "reason": "back"})]
    if kind == ROLE_CHANGE:  # an agency lead moves agency; anyone else, role
        assert case.registers is not None
        agency = None
        if case.registers in AGENCY_ROLES:
            agency = "police" if case.registers == case.subject else "council"
        payload = {"user_id": holder, "role": case.registers, "agency": agency}
        return [(s.directory, DIRECTORY_ID, {**payload, "reason": "a new post"})]
    raise AssertionError(f"no attempt for {kind}: add one here")


#: A session of the PCC's Assurance & Accountability meeting (domain/session.py)...
SESSION: dict[str, Any] = {
    "session_id": "pcc-aa-2023-03",
    "body": "PCC Assurance & Accountability",
    "date": "2023-03-13",
    "started_at": "10:00",
    "ended_at": "12:00",
    "attendees": [{"role": "Police and Crime Commissioner", "label": "PCC"}],
    "recommendations": [1, 2],
}
#: ...and what its later entries say (an arising is closed on a session that records it).
ARISING = {"arising_id": "pcc-aa-2023-03.1", "session_id": "pcc-aa-2023-03", "recommendation": 2}
ARISING |= {"owner": {"agency": "police"}, "due_date": "2023-04-30", "text": "Share the data"}
SESSION_KINDS: dict[str, dict[str, Any]] = {
    "session.minutes_approved": {"minutes_sha256": "ab" * 32, "entries": [3, 5]},
    "arising.recorded": ARISING | {"arising_id": "pcc-aa-2023-03.2", "done_means": "done"},
    "arising.closed": {"arising_id": "pcc-aa-2023-03.1", "reason": "shared", "evidence": None},
}


def _sessions(s: States) -> list[Session]:
    """The session chaired in turn by the implementation group's, the chair's and
    scrutiny's signer (the roles that may chair one), with its action arising recorded."""
    clock = lambda: datetime(2023, 3, 13, 11, tzinfo=UTC)  # noqa: E731
    secretariat = Signer("sig", s.keys["sig"], ORIGIN, clock=clock)
    made: list[Session] = []
    for chair in ("sig", "chair", "scrutiny"):
        aggregate = session_aggregate_id(SESSION["session_id"])
        held = secretariat.sign("session.held", aggregate, 1, SESSION | {"chair": chair})
        state: Any = to_domain_event(held).mutate(None)
        payload = ARISING | {"done_means": "the OPCC has the figures"}
        arising = to_domain_event(secretariat.sign("arising.recorded", aggregate, 2, payload))
        session: Any = arising.mutate(state)
        made.append(session)
    return made


def domain_refusals(case: Case, s: States, user: str) -> list[str] | None:
    """None if the domain accepts the case's event from `user` in some attempt, else why
    it refused each."""
    actor = s.directory.users[user].actor()
    assert actor.role.value == case.role
    signer = Signer(user, s.keys[user], ORIGIN, clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    refusals = []
    for state, aggregate, payload in attempts(case, s):
        version = 1 if state is None else state.version + 1
        event: Any = to_domain_event(signer.sign(case.kind, aggregate, version, payload))
        directory = s.directory
        if case.kind in DIRECTORY_KINDS:  # the state is the directory, under this charter
            state = directory = under(state, TABLES[case.table])
        try:
            event.check(state, RuleContext(actor=actor, directory=directory, plan=s.plan))
        except DomainError as error:
            refusals.append(f"{type(error).__name__}: {error}")
            continue
        return None
    return refusals


def auditor_allows(case: Case, s: States, user: str) -> bool:
    _, _, payload = attempts(case, s)[0]  # what the auditor reads of it is the same in all
    table = TABLES[case.table]
    allowed = allowed_roles(case.kind, user, payload, appointers=table, subject_role=case.subject)
    return case.role in allowed


# -- the tests -------------------------------------------------------------------------------


def test_the_appointer_choices_are_the_same() -> None:
    domain = {role.value: {r.value for r in by} for role, by in DOMAIN_CHOICES.items()}
    assert {role: set(by) for role, by in APPOINTER_CHOICES.items()} == domain


@pytest.mark.parametrize("table", [t for t in TABLES if TABLES[t] is not None])
def test_both_read_each_charter_table_as_naming_the_same_appointers(table: str) -> None:
    named = TABLES[table]
    assert named is not None
    charter = Charter("chair", "T", parse_appointers(named, "test"), frozenset())
    for role in Role:
        by = charter.appointer_of(role)
        assert appointer_of(role.value, named) == (None if by is None else by.value), role


def test_both_read_the_default_table_alike_and_a_table_outside_the_choices_as_nobody() -> None:
    default = dict(DEFAULT_APPOINTERS)
    assert set(default) == set(APPOINTER_CHOICES)
    for role, by in default.items():
        assert by in APPOINTER_CHOICES[role] and appointer_of(role, default) == by
    outside = {**default, "officer": "chair"}  # the domain never admits such a charter...
    with pytest.raises(DomainError):
        parse_appointers(outside, "test")
    assert appointer_of("officer", outside) is None  # ...and the auditor grants it nothing


def test_before_a_charter_both_let_only_administrators_appoint_administrators() -> None:
    for role in Role:
        expected = "admin" if role is Role.ADMIN else None
        assert appointer_of(role.value, None) == expected, role
    admin = Actor("admin", Role.ADMIN, None)
    for role in Role:
        if role is Role.ADMIN:
            require_appointer(None, admin, role, None, "test")
        else:
            with pytest.raises(DomainError):
                require_appointer(None, admin, role, None, "test")


def test_every_event_type_is_in_the_auditors_table_and_in_these_cases() -> None:
    assert set(AUTHORITY) | {GENESIS_TYPE} == set(event_types())
    assert {case.kind for case in CASES} == set(event_types()) - SELF_SIGNED


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_auditor_allows_exactly_what_the_domain_accepts(case: Case, states: States) -> None:
    user = SIGNER[case.role]
    refusals = domain_refusals(case, states, user)
    allows = auditor_allows(case, states, user)
    assert allows == (refusals is None), (
        f"{case}: the auditor {'allows' if allows else 'refuses'} it; the domain "
        + ("accepts it" if refusals is None else "refuses it: " + " | ".join(refusals[:3]))
    )


ACTION_KINDS = [kind for kind in SIMPLE_KINDS + sorted(BY_LEVEL) if kind.startswith("action.")]
CHALLENGE_KINDS = [kind for kind in SIMPLE_KINDS if kind.startswith("challenge.")]


@pytest.mark.parametrize("role", AGENCY_ROLES)
@pytest.mark.parametrize("kind", CHALLENGE_KINDS)
def test_a_challenge_is_answered_by_the_agency_it_is_addressed_to(
    kind: str, role: str, states: States
) -> None:
    """The challenges are addressed to council: its officer and lead may answer, the
    police's may not, exactly where the auditor scopes the kind to the agency (it reads
    the agency from the challenge's raising: Signers.apply)."""
    case = Case(kind, role)
    own = domain_refusals(case, states, SIGNER[role]) is None
    other = domain_refusals(case, states, OTHER_AGENCY[role]) is None
    assert own == (kind == "challenge.answered"), case
    assert other == (own and not scoped_to_agency(kind, role)), (case, own, other)


@pytest.mark.parametrize("role", AGENCY_ROLES)
@pytest.mark.parametrize("kind", ACTION_KINDS)
def test_the_agency_scope_is_the_same(kind: str, role: str, states: States) -> None:
    """What the lead agency's officer or lead may sign, another agency's may too exactly
    when the auditor does not scope that kind to the action's agency."""
    levels = LEVELS if kind in BY_LEVEL else [None]
    for level in levels:
        case = Case(kind, role, level=level)
        own = domain_refusals(case, states, SIGNER[role]) is None
        other = domain_refusals(case, states, OTHER_AGENCY[role]) is None
        assert other == (own and not scoped_to_agency(kind, role)), (case, own, other)


def test_after_a_transfer_both_scope_the_action_to_its_new_agency(states: States) -> None:
    """The council-led action in progress moves to the police: the domain (the action's
    `lead_agency`) and the auditor (Signers, following the transfer entry) then both
    admit the police's officer and lead, and refuse the council's, for every kind signed
    on an action in progress, exactly where they admitted the council's before."""
    before = states.actions["in_progress"]
    clock = lambda: datetime(2024, 1, 1, tzinfo=UTC)  # noqa: E731
    transfer = Signer("sig", states.keys["sig"], ORIGIN, clock=clock).sign(
        Action.LeadAgencyTransferred.TYPE,
        before.id,
        before.version + 1,
        {"to_agency": "police", "reason": "responsibility moved"},
    )
    event: Any = to_domain_event(transfer)
    sig = states.directory.users["sig"].actor()
    event.check(before, RuleContext(actor=sig, directory=states.directory, plan=states.plan))
    after = event.mutate(copy.deepcopy(before))
    assert after.lead_agency == "police" and after.lead_history[-1].agency == "police"
    roots = Roots(None)
    roots.members = {
        user: Member(u.role.value, u.agency, True, None)
        for user, u in states.directory.users.items()
    }
    refused: list[tuple[Any, ...]] = []
    signers = Signers(roots, lambda *problem: refused.append(problem))
    signers.lead_agency[before.id] = "council"
    assert signers.authorised(0, transfer.body)
    signers.apply(0, transfer.body)
    checked = 0
    for kind in ACTION_KINDS:
        for role in AGENCY_ROLES:
            case = Case(kind, role)
            tried = (
                [t for t in attempts(case, states) if t[0] is before]
                if kind not in BY_LEVEL
                else []
            )
            if not tried:
                continue
            for user, other in ((OTHER_AGENCY[role], SIGNER[role]), (SIGNER[role], None)):
                domain = _accepts(case, states, user, after, tried)
                entry = Signer(user, states.keys[user], ORIGIN, clock=clock).sign(
                    kind, before.id, after.version + 1, tried[0][2]
                )
                auditor = signers.authorised(1, entry.body)
                assert domain == auditor, (case, user, domain, auditor)
                if other is not None:  # the police's now, as the council's were before
                    assert domain == _accepts(case, states, other, before, tried), (case, user)
                else:  # the council's no longer
                    assert not domain, (case, user)
                checked += 1
    assert checked > 10


def _accepts(case: Case, s: States, user: str, state: Action, tried: list[Attempt]) -> bool:
    """Whether the domain accepts one of `tried`'s payloads on `state` from `user`."""
    actor = s.directory.users[user].actor()
    signer = Signer(user, s.keys[user], ORIGIN, clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    ctx = RuleContext(actor=actor, directory=s.directory, plan=s.plan)
    for _, _, payload in tried:
        event: Any = to_domain_event(signer.sign(case.kind, state.id, state.version + 1, payload))
        try:
            event.check(state, ctx)
        except DomainError:
            continue
        return True
    return False


def test_a_self_signed_entry_makes_its_signer_the_one_role_the_auditor_allows() -> None:
    assert {Directory.Created.TYPE, Directory.CharterAdopted.TYPE} == SELF_SIGNED
    admin, chair = KeyPair.generate(), KeyPair.generate()
    genesis = Signer("root", admin, ORIGIN).sign(
        GENESIS_TYPE, DIRECTORY_ID, 1,
        {"origin": ORIGIN, "admin_id": "root", "admin_name": "Root",
         "public_key": encode_public_key(admin.public_key)},
    )  # fmt: skip
    charter = Signer("kc", chair, ORIGIN).sign(
        Directory.CharterAdopted.TYPE, DIRECTORY_ID, 2,
        {"chair_id": "kc", "name": "KC", "public_key": encode_public_key(chair.public_key),
         "title": "T", "appointers": dict(DEFAULT_APPOINTERS), "off_page_roles": []},
    )  # fmt: skip
    directory: Any = None
    for entry, named in ((genesis, "root"), (charter, "kc")):
        event: Any = to_domain_event(entry)
        role = Role.ADMIN if entry is genesis else Role.CHAIR
        event.check(directory, RuleContext(Actor(named, role, None), directory, None))
        directory = event.mutate(directory)
        made = directory.users[named].role.value
        assert allowed_roles(entry.body.type, named, entry.body.payload) == {made}


def test_what_an_administrator_may_sign_is_operational(states: States) -> None:
    by_admin = [case for case in CASES if case.role == "admin"]
    domain = {c.kind for c in by_admin if domain_refusals(c, states, "admin") is None}
    auditor = {c.kind for c in by_admin if auditor_allows(c, states, "admin")}
    assert domain | {GENESIS_TYPE} == auditor | {GENESIS_TYPE} == OPERATIONAL
