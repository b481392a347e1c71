"""The action verbs, once: what a user may do to an action, and how each becomes a Client call.

One table for every front door. The CLI's `act` command builds its sub-commands from it
and dispatches through it; the web pages' prepare-for-signing service
(`api.application.prepare`) looks its forms up in it. A verb names

* its arguments (`Arg`): how the command line spells each (a positional, or an option)
  and how a web form asks for it;
* the `api.application.commands.Client` method it calls, the parameters it fixes itself
  (which status "start" moves to, that a challenge is a comment of kind challenge) and
  how its arguments map onto the method's parameters;
* the web form that offers it, where the pages do (`Form`).

The front doors only turn what they were given into argument values: a text, a list of
texts (`LIST`: repeated options on the command line, one a line in a form), or for `FILE`
the stored blob's record (the CLI uploads the file itself, the browser uploads it first
and sends the record). Nothing here knows of argparse or of any web framework.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.application.commands import Client, CommandError
from domain import Action, Status
from ledger.service import Appended

TEXT = "text"  # one text
CHOICE = "choice"  # one of `choices`
LIST = "list"  # several texts
FILE = "file"  # a file, stored as evidence: its blob's record (sha256, size, ...)

#: What the record of a stored blob holds (the uploader's side of an evidence event).
BLOB_RECORD = ("sha256", "size", "media_type", "original_name", "storage_key")


@dataclass(frozen=True)
class Arg:
    """One argument of a verb."""

    name: str  # its name: the key in a web form's inputs and in `Verb.call`'s values
    label: str = ""  # how a web form labels it
    kind: str = TEXT
    required: bool = True
    default: str | None = None  # the value when an optional argument is not given
    choices: tuple[str, ...] = ()
    flag: str | None = None  # the command line's option ("--reason"); None: a positional
    param: str | None = None  # the Client method's parameter it fills (default: `name`)
    to: Callable[[Any], Any] | None = None  # how its value becomes that parameter's
    control: str = "text"  # a web form's control: text | textarea | select | date | file
    help: str | None = None  # the command line's help
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """Where argparse puts it (`--effective-date` -> effective_date)."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else self.name


@dataclass(frozen=True)
class Form:
    """How the web pages offer a verb: a form of its arguments, and harmless placeholder
    inputs (`probe`) to ask the domain's rules whether to offer it at all."""

    label: str
    order: int  # where the action page lists it
    probe: Mapping[str, Any] = field(default_factory=dict)
    hint: str = ""


@dataclass(frozen=True)
class Verb:
    name: str  # as typed on the command line: "sign-off"
    event_type: str  # the entry it appends
    method: str  # the `Client` method it calls
    args: tuple[Arg, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)  # parameters the verb sets itself
    bind: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # when not one to one
    help: str | None = None  # the command line's help
    form: Form | None = None  # None: the web pages do not offer it

    @property
    def web_name(self) -> str:
        """Its name in the web pages and their API (`sign_off`)."""
        return self.name.replace("-", "_")

    @property
    def uploads(self) -> bool:
        """True when an argument is a file to store as evidence before signing."""
        return any(arg.kind == FILE for arg in self.args)

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The Client method's keyword arguments for these argument values."""
        found: dict[str, Any] = {}
        for arg in self.args:
            value = values.get(arg.name, arg.default)
            found[arg.param or arg.name] = arg.to(value) if arg.to else value
        if self.bind is not None:
            found = self.bind(found)
        return {**found, **self.fixed}

    def call(self, client: Client, action_id: str, values: Mapping[str, Any]) -> Appended:
        """Build, sign and submit the verb's entry through `client`."""
        method: Callable[..., Appended] = getattr(client, self.method)
        return method(action_id, **self.parameters(values))


def changes_from_pairs(pairs: list[str]) -> dict[str, Any]:
    """`amend --set FIELD=VALUE ...`: lead_officers takes a ;-separated list, an empty
    value clears a field."""
    changes: dict[str, Any] = {}
    for item in pairs:
        name, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--set takes FIELD=VALUE, got {item!r}")
        changes[name] = (
            [v.strip() for v in value.split(";")] if name == "lead_officers" else (value or None)
        )
    return changes


def evidence_record(found: dict[str, Any]) -> dict[str, Any]:
    """`attach`: the stored blob's record with what the uploader says of it."""
    blob = found["file"]
    return {
        "evidence": {
            "sha256": blob["sha256"],
            "size": blob["size"],
            "media_type": blob["media_type"],
            "original_name": blob["original_name"],
            "description": found["description"],
            "storage_key": blob["storage_key"],
            "effective_date": found["effective_date"],
        }
    }


REASON = Arg("reason", "Reason", flag="--reason", control="textarea")
#: A formal response's members (domain/response.py), for an action or a recommendation.
RESPONSE_ARGS = (
    Arg(
        "response",
        "Response",
        flag="--response",
        help="a term of the response vocabulary (`plan vocabulary` lists them), e.g. "
        "accepted_in_principle",
        metavar="TERM",
    ),
    Arg(
        "responded_on",
        "Date the response was made",
        flag="--on",
        control="date",
        help="the date the response was made (YYYY-MM-DD)",
        metavar="DATE",
    ),
    Arg(
        "responder",
        "Who responded",
        flag="--responder",
        help='who made it: an organisation\'s name, e.g. "Home Office"',
    ),
    Arg(
        "reasons",
        "Reasons",
        required=False,
        default="",
        flag="--reasons",
        control="textarea",
        help="why (needed for every term but the vocabulary's first)",
    ),
    Arg(
        "source",
        "Where it was published",
        required=False,
        default="",
        flag="--source",
        help="where it was published: a report's title or URL",
    ),
)
TO_STATUS = "to_status"

VERBS: tuple[Verb, ...] = (
    Verb(
        "start",
        Action.StatusChanged.TYPE,
        "change_status",
        fixed={TO_STATUS: Status.IN_PROGRESS},
        form=Form("Start work", 0),
    ),
    Verb(
        "submit",
        Action.StatusChanged.TYPE,
        "change_status",
        fixed={TO_STATUS: Status.EVIDENCE_SUBMITTED},
        help="submit the attached evidence for sign-off",
        form=Form("Submit the evidence for sign-off", 1),
    ),
    Verb(
        "block",
        Action.StatusChanged.TYPE,
        "change_status",
        (REASON,),
        fixed={TO_STATUS: Status.BLOCKED},
        form=Form("Mark as blocked", 6, {"reason": "probe"}),
    ),
    Verb(
        "unblock",
        Action.StatusChanged.TYPE,
        "change_status",
        (REASON,),
        fixed={TO_STATUS: Status.IN_PROGRESS},
        form=Form("Unblock", 7, {"reason": "probe"}),
    ),
    Verb(
        "reopen",
        Action.StatusChanged.TYPE,
        "change_status",
        (REASON,),
        fixed={TO_STATUS: Status.IN_PROGRESS},
    ),
    Verb("revoke-sign-off", Action.SignOffRevoked.TYPE, "revoke_sign_off", (REASON,)),
    Verb("withdraw", Action.Withdrawn.TYPE, "withdraw", (REASON,)),
    Verb(
        "outcome",
        Action.StatusChanged.TYPE,
        "change_status",
        (
            Arg(
                "outcome",
                kind=CHOICE,
                choices=(Status.NOT_IMPLEMENTABLE.value, Status.SUPERSEDED.value),
                param=TO_STATUS,
                to=Status,
            ),
            REASON,
        ),
        help="chair: not_implementable or superseded",
    ),
    Verb(
        "sign-off",
        Action.SignedOff.TYPE,
        "sign_off",
        (
            Arg(
                "statement",
                "Statement",
                required=False,
                default="",
                flag="--statement",
                control="textarea",
            ),
        ),
        help="sign off at your role's level",
        form=Form(
            "Sign off",
            3,
            {"statement": ""},
            "The sign-off names exactly the evidence listed above.",
        ),
    ),
    Verb(
        "return",
        Action.Returned.TYPE,
        "return_action",
        (Arg("reasons", "Reasons (one a line)", kind=LIST, flag="--reason", control="textarea"),),
        help="return to the agency with reasons",
        form=Form("Return to the agency", 4, {"reasons": "probe"}),
    ),
    Verb(
        "rate",
        Action.RagRated.TYPE,
        "rate",
        (
            Arg(
                "rating", "Rating", kind=CHOICE, choices=("red", "amber", "green"), control="select"
            ),
            REASON,
        ),
        form=Form("Rate red, amber or green", 5, {"rating": "amber", "reason": "probe"}),
    ),
    Verb(
        "comment",
        Action.CommentAdded.TYPE,
        "comment",
        (Arg("text", "Comment", control="textarea"),),
        form=Form("Comment", 8, {"text": "probe"}),
    ),
    Verb(
        "challenge",
        Action.CommentAdded.TYPE,
        "comment",
        (Arg("text", "Challenge", control="textarea"),),
        fixed={"challenge": True},
        form=Form("Challenge (asks the agency to answer)", 9, {"text": "probe"}),
    ),
    Verb(
        "update",
        Action.NarrativeUpdated.TYPE,
        "narrative_update",
        (
            Arg(
                "period",
                "Period it covers (e.g. 2023-H1)",
                flag="--period",
                help='the period it covers, as your reports name it: "2023-H1" (<= 40 chars)',
            ),
            *(
                Arg(
                    name,
                    label,
                    required=False,
                    default="",
                    flag=f"--{name}",
                    control="textarea",
                    help=what,
                )
                for name, label, what in (
                    ("done", "Done", "what was done in the period"),
                    ("next", "Next", "what comes next"),
                    ("risks", "Risks", "the risks to delivery"),
                )
            ),
        ),
        help="officer or agency lead: the narrative update for a period (done, next, risks; "
        "at least one)",
        form=Form(
            "Write a narrative update",
            10,
            {"period": "probe", "done": "probe"},
            "Say what was done in the period, what comes next or the risks (at least one).",
        ),
    ),
    Verb("assign", Action.OfficerAssigned.TYPE, "assign", (Arg("officer"),)),
    Verb(
        "amend",
        Action.Amended.TYPE,
        "amend",
        (
            Arg(
                "set",
                kind=LIST,
                flag="--set",
                param="changes",
                to=changes_from_pairs,
                metavar="FIELD=VALUE",
            ),
            REASON,
        ),
    ),
    Verb("merge", Action.Merged.TYPE, "merge", (Arg("into"), REASON)),
    # Not a web form: its placeholder agency could never pass the rule (the CLI signs it).
    Verb(
        "transfer",
        Action.LeadAgencyTransferred.TYPE,
        "transfer_lead",
        (
            Arg(
                "to_agency",
                "New lead agency",
                flag="--to",
                help="the id of the agency of the plan that leads the action from now on",
                metavar="AGENCY",
            ),
            REASON,
        ),
        help="implementation group: move the action to another lead agency, with the reason",
    ),
    Verb(
        "attach",
        Action.EvidenceAttached.TYPE,
        "attach_evidence",
        (
            Arg("file", "File", kind=FILE, control="file"),
            Arg("description", "Description", flag="--description", control="textarea"),
            Arg(
                "effective_date",
                "Date the evidence speaks to",
                flag="--effective-date",
                control="date",
                help="the date the evidence speaks to",
            ),
        ),
        bind=evidence_record,
        help="store a file as evidence and attach it",
        form=Form(
            "Upload evidence",
            2,
            {
                "sha256": "0" * 64,
                "size": 1,
                "media_type": "application/octet-stream",
                "original_name": "probe",
                "description": "probe",
                "storage_key": "probe",
                "effective_date": "2000-01-01",
            },
        ),
    ),
    Verb(
        "withdraw-evidence",
        Action.EvidenceWithdrawn.TYPE,
        "withdraw_evidence",
        (Arg("sha256"), REASON),
    ),
    # Not offered as web forms: a form is offered when its placeholder input passes the
    # rule, and only a real file of the action can pass these (the CLI signs them).
    Verb(
        "publish-evidence",
        Action.EvidencePublished.TYPE,
        "publish_evidence",
        (
            Arg("sha256"),
            Arg(
                "statement",
                "Statement",
                flag="--statement",
                control="textarea",
                help="what you vouch for: that the file, its name and its description hold "
                "no personal data and may be published",
            ),
        ),
        help="agency lead: mark a file of the action publishable, with a signed statement",
    ),
    Verb(
        "unpublish-evidence",
        Action.EvidenceUnpublished.TYPE,
        "unpublish_evidence",
        (Arg("sha256"), REASON),
        help="agency lead: stop publishing a file (the log keeps both entries)",
    ),
    # Not a web form either: its term must be one of the ledger's own vocabulary.
    Verb(
        "respond",
        Action.ResponseRecorded.TYPE,
        "respond_to_action",
        RESPONSE_ARGS,
        help="the agency's own formal response to the action (agency lead, or the group)",
    ),
)

#: Every verb by its command-line name.
BY_NAME: dict[str, Verb] = {verb.name: verb for verb in VERBS}


def verb(name: str) -> Verb:
    """The verb of this command-line name (a CommandError if there is none)."""
    found = BY_NAME.get(name)
    if found is None:
        raise CommandError(f"unknown verb {name}")
    return found
