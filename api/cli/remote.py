"""The CLI's client mode: the same commands against a server, over HTTP.

Signing still happens here, on the caller's side, with the caller's private key file;
the server receives signed entries and a bearer token that says who is calling. Appends
carry a fresh command id and are retried once on a network failure, so a retry after a
lost response is answered from the server's record instead of being appended twice.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO
from uuid import UUID

import httpx

from api.cli.http_client import RetryWhenAsked, not_the_api, unavailable
from domain import NotPermitted, Role, Status
from domain.errors import InvalidInput, InvalidTransition
from domain.references import reference_key
from domain.response import ResponseTerm
from evidence_store.base import CorruptBlob
from ledger.auditor.entry import SignedEntry, parse_timestamp
from ledger.auditor.receipt import Receipt, ReceiptError, check_inclusion
from ledger.errors import LedgerError, VersionConflict
from ledger.receipt import Receipted
from ledger.service import Appended
from ledger.timestamps import NextEntry, floor


def _is_api_error(response: httpx.Response) -> bool:
    """Whether a refusal is the ledger API's (its JSON error shape), not another server's."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str)


class RemoteError(LedgerError):
    """The server refused, with its JSON reason."""

    def __init__(self, status: int, code: str, detail: Any) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


@dataclass
class RemoteAction:
    """The parts of an action's state a client needs to build an entry."""

    id: UUID
    action_id: str
    status: Status
    lead_agency: str
    evidence: list[str]

    def current_evidence(self) -> list[str]:
        return list(self.evidence)


@dataclass
class RemotePlan:
    """The parts of the plan a client needs (import checks, status rendering)."""

    title: str
    agencies: dict[str, str]
    recommendations: dict[int, Any]
    recommendations_expected: int
    response_terms: list[ResponseTerm] = field(default_factory=list)
    #: A renumbered recommendation's former number -> its number now.
    former_numbers: dict[int, int] = field(default_factory=dict)

    def current_number(self, number: int) -> int | None:
        return number if number in self.recommendations else self.former_numbers.get(number)

    def references_taken(self) -> list[tuple[int, str]]:
        """As `domain.plan.Plan.references_taken`."""
        return [
            (number, reference)
            for number, rec in self.recommendations.items()
            for reference in [rec.get("reference", ""), *rec.get("former_references", [])]
            if reference
        ]

    def find(self, text: str) -> int | None:
        """As `domain.plan.Plan.find`: a number (or former one), or a reference."""
        typed = text.strip()
        if typed.isascii() and typed.isdigit():
            found = self.current_number(int(typed))
            if found is not None:
                return found
        key = reference_key(typed)
        for number, rec in self.recommendations.items():
            known = [rec.get("reference", ""), *rec.get("former_references", [])]
            if key in {reference_key(r) for r in known if r}:
                return number
        return None


class RemoteLedger:
    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = server.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=RetryWhenAsked(transport or httpx.HTTPTransport()),
            headers={"Authorization": f"Bearer {token}"},
        )
        self._origin: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code < 400:
            try:
                return response.json()
            except ValueError:
                raise not_the_api(self.base_url, response.status_code, response.url.path) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            raise not_the_api(self.base_url, response.status_code, response.url.path)
        code, detail = str(body["error"]), body.get("detail")
        if response.status_code == 503:  # still, after RetryWhenAsked's attempts
            raise unavailable(self.base_url, detail)
        if code == "version_conflict":
            raise VersionConflict(
                UUID(body["aggregate_id"]), int(body["current_version"]), str(detail)
            )
        refusals = {
            "not_permitted": NotPermitted,
            "invalid_transition": InvalidTransition,
            "invalid_input": InvalidInput,
        }
        if code in refusals:
            rule = str(body.get("rule", ""))
            raise refusals[code](rule, _without_rule(str(detail), rule))
        raise RemoteError(response.status_code, code, detail)

    # -- what api.application.commands.Client needs -------------------------------------

    def version_of(self, aggregate_id: UUID) -> int:
        return self.next_entry(aggregate_id).version - 1

    def next_entry(self, aggregate_id: UUID) -> NextEntry:
        """The next version and the earliest timestamp the server accepts for it (one
        request); from a server that does not say, just after the latest entry."""
        found = self._check(self.http.get(f"/v1/aggregates/{aggregate_id}/version"))
        previous = _moment(found.get("timestamp"))
        not_before = _moment(found.get("not_before"))
        if not_before is None and previous is not None:
            not_before = floor(previous, None)
        return NextEntry(int(found["version"]) + 1, previous, not_before)

    def role_of(self, user_id: str) -> Role | None:
        me = self.me()
        return Role(me["role"]) if me["user_id"] == user_id else None

    def action(self, action_id: str) -> RemoteAction | None:
        response = self.http.get(f"/v1/actions/{action_id}")
        if response.status_code == 404 and _is_api_error(response):
            return None
        state = self._check(response)["action"]
        return RemoteAction(
            UUID(state["aggregate_id"]),
            state["action_id"],
            Status(state["status"]),
            state["lead_agency"],
            list(state["current_evidence"]),
        )

    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]:
        wire = []
        for entry in entries:
            obj = entry.to_json()
            wire.append({"signature": obj.pop("signature"), "body": obj})
        request = {"entries": wire, "command_id": f"cli-{uuid.uuid4().hex}"}
        try:
            response = self.http.post("/v1/entries", json=request)
        except httpx.TransportError:
            response = self.http.post("/v1/entries", json=request)  # same command id: safe
        answered = self._check(response)["appended"]
        return [_receipted(a, entry) for a, entry in zip(answered, entries, strict=True)]

    # -- the rest of the CLI -----------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        found: dict[str, Any] = self._check(self.http.get("/v1/me"))
        return found

    def status(
        self, *, as_of: str | None = None, position: int | None = None, basis: str = "recorded"
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if as_of:
            params["as_of"] = as_of
            if basis != "recorded":
                params["basis"] = basis
        if position is not None:
            params["position"] = position
        found: dict[str, Any] = self._check(self.http.get("/v1/status", params=params))
        return found

    def challenges(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/challenges: the challenges (scoped by the server to the caller)."""
        found: dict[str, Any] = self._check(self.http.get("/v1/challenges", params=params))
        return found

    def diff(self, start: str, end: str) -> dict[str, Any]:
        found: dict[str, Any] = self._check(
            self.http.get("/v1/diff", params={"from": start, "to": end})
        )
        return found

    def history(self, action_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._check(self.http.get(f"/v1/actions/{action_id}"))[
            "history"
        ]
        return found

    def timeline(
        self,
        *,
        action_id: str | None = None,
        recommendation: int | None = None,
        as_of: str | None = None,
        position: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """An action's (or a recommendation's) timeline, as the server's projection has it."""
        params: dict[str, Any] = {}
        if as_of:
            params["as_of"] = as_of
        if position is not None:
            params["position"] = position
        if limit is not None:
            params["limit"] = limit
        path = (
            f"/v1/recommendations/{recommendation}/timeline"
            if recommendation is not None
            else f"/v1/actions/{action_id}/timeline"
        )
        found: dict[str, Any] = self._check(self.http.get(path, params=params))
        return found

    def plan(self) -> RemotePlan | None:
        found: dict[str, Any] = self._check(self.http.get("/v1/plan"))
        if not found.get("agencies"):
            return None
        return RemotePlan(
            title=found["title"],
            agencies=dict(found["agencies"]),
            recommendations={int(r["number"]): r for r in found["recommendations"]},
            recommendations_expected=int(found.get("recommendations_expected", 0)),
            response_terms=[
                ResponseTerm(str(t["id"]), str(t["label"]))
                for t in found.get("response_vocabulary", [])
            ],
            former_numbers={int(k): int(v) for k, v in found.get("former_numbers", {}).items()},
        )

    def users(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._check(self.http.get("/v1/users"))
        return found

    def origin(self) -> str:
        """The log's origin, the first line of its checkpoint: what our bodies are
        signed for. A server that names another log only gets entries it cannot use."""
        if self._origin is None:
            self._origin = self.latest_checkpoint_note().split("\n", 1)[0]
        return self._origin

    def latest_checkpoint_note(self) -> str:
        response = self.http.get("/v1/checkpoint")
        if response.status_code >= 400:
            self._check(response)
        return response.text

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        found = self._check(
            self.http.get(
                "/v1/proofs/consistency", params={"old_size": old_size, "new_size": new_size}
            )
        )
        return [base64.b64decode(h) for h in found["proof"]]

    def publish_cosignature(self, tree_size: int, witness_key: str, line: str) -> Any:
        return self._check(
            self.http.post(
                f"/v1/checkpoints/{tree_size}/cosignatures",
                json={"witness_key": witness_key, "line": line},
            )
        )

    def cosigned_checkpoint(self, tree_size: int) -> str:
        response = self.http.get(f"/v1/checkpoints/{tree_size}/cosigned")
        if response.status_code >= 400:
            self._check(response)
        return response.text

    def sign_checkpoint(self) -> str:
        response = self.http.post("/v1/checkpoint")
        if response.status_code >= 400:
            self._check(response)
        return response.text

    def document(self, path: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """A report or export (HTML, PDF, CSV, XLSX): its bytes and response headers."""
        response = self.http.get(path, params=params)
        if response.status_code >= 400:
            self._check(response)
        return response.content, dict(response.headers)


def _moment(text: Any) -> datetime | None:
    return None if text is None else parse_timestamp(text)


def _receipted(answer: dict[str, Any], entry: SignedEntry) -> Receipted:
    """One appended entry as the server answered, with its receipt checked on arrival:
    the leaf must be this entry's bytes and the proof must place it in the checkpoint's
    tree (the log key's signature is checked by `receipts check`, with the pinned key).
    A receipt that does not prove the append is refused (ReceiptError), not kept."""
    receipt = None
    if answer.get("receipt") is not None:
        receipt = Receipt.from_json(answer["receipt"])
        if receipt.leaf_index != answer["leaf_index"]:
            raise ReceiptError(
                f"the server appended entry {answer['leaf_index']} but its receipt is for "
                f"leaf {receipt.leaf_index}"
            )
        origin = receipt.claimed_checkpoint().origin
        if origin != entry.body.origin:
            raise ReceiptError(
                f"the server appended entry {answer['leaf_index']} but its receipt is a "
                f"checkpoint of the log {origin!r}, not of {entry.body.origin!r}, the log the "
                "entry was signed for"
            )
        try:
            check_inclusion(receipt, entry.entry_bytes())
        except ReceiptError as error:
            raise ReceiptError(
                f"the server appended entry {answer['leaf_index']} but its receipt does not "
                f"prove it: {error}"
            ) from None
    return Receipted(
        answer["leaf_index"],
        answer["notification_id"],
        answer["type"],
        UUID(answer["aggregate_id"]),
        answer["version"],
        receipt,
    )


class RemoteSource:
    """The log read through the API, for `export --server` (ledger.bundle.LogSource)."""

    PAGE = 1000

    def __init__(self, remote: RemoteLedger) -> None:
        self.remote = remote
        self._size: int | None = None

    def origin(self) -> str:
        return self.remote.latest_checkpoint_note().split("\n", 1)[0]

    def tree_size(self) -> int:
        if self._size is None:
            found = self.remote._check(
                self.remote.http.get("/v1/log/entries", params={"start": 0, "limit": 1})
            )
            self._size = int(found["tree_size"])
        return self._size

    def request_checkpoint(self) -> bool:
        """Ask the server to sign a checkpoint now (the chair, the implementation group
        and admins may); False if this caller may not, and wait for its regular one."""
        response = self.remote.http.post("/v1/checkpoint")
        if response.status_code == 403:
            return False
        if response.status_code >= 400:
            self.remote._check(response)
        self._size = None  # the size the new checkpoint covers is read again
        return True

    def entries(self) -> Iterator[tuple[int, bytes]]:
        start = 0
        while True:
            found = self.remote._check(
                self.remote.http.get("/v1/log/entries", params={"start": start, "limit": self.PAGE})
            )
            if not found["entries"]:
                return
            for offset, text in enumerate(found["entries"]):
                yield start + offset, base64.b64decode(text)
            start += len(found["entries"])

    def checkpoint_notes(self) -> list[tuple[int, str]]:
        listed = self.remote._check(self.remote.http.get("/v1/checkpoints"))
        return [
            (
                int(c["tree_size"]),
                c["note"] + "".join(s["line"] + "\n" for s in c.get("cosignatures", [])),
            )
            for c in listed
        ]

    def log_key_rotations(self) -> list[str]:
        """The log's rotation statements (a server without the endpoint has none)."""
        response = self.remote.http.get("/v1/log-key/rotations")
        if response.status_code == 404 and _is_api_error(response):
            return []
        return [str(note) for note in self.remote._check(response)]

    def log_pq_statement(self) -> str | None:
        """The statement binding the log's post-quantum key (None: the log has none, or
        the server predates the endpoint). The auditor checks it; nothing here trusts it."""
        response = self.remote.http.get("/v1/log-key/pq")
        if response.status_code == 404 and _is_api_error(response):
            return None
        return str(self.remote._check(response)["statement"])


class RemoteEvidence:
    """Upload and download through the server (it verifies; so does this side)."""

    def __init__(self, remote: RemoteLedger) -> None:
        self.remote = remote
        self.max_bytes = 5 * 1024**3  # the server enforces its own limit

    def put(self, stream: BinaryIO, *, expected_sha256: str | None = None) -> Any:
        data = {"sha256": expected_sha256} if expected_sha256 else {}
        response = self.remote.http.post(
            "/v1/evidence", files={"file": ("evidence", stream)}, data=data
        )
        stored = self.remote._check(response)
        return _Stored(stored["sha256"], stored["size"], stored["storage_key"])

    def read(self, sha256: str) -> Iterator[bytes]:
        digest = hashlib.sha256()
        with self.remote.http.stream("GET", f"/v1/evidence/{sha256}") as response:
            if response.status_code >= 400:
                response.read()
                self.remote._check(response)
            for chunk in response.iter_bytes(1024 * 1024):
                digest.update(chunk)
                yield chunk
        if digest.hexdigest() != sha256:
            raise CorruptBlob(f"the download of {sha256} does not match its hash")


@dataclass(frozen=True)
class _Stored:
    sha256: str
    size: int
    storage_key: str


def _without_rule(detail: str, rule: str) -> str:
    """The server's detail is the refusal's whole text, which ends with its rule; the
    DomainError rebuilt here adds the rule again, so it is taken off first."""
    suffix = f" [rule: {rule}]"
    return detail.removesuffix(suffix)
