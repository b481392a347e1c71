"""A client that keeps its promises across server crashes and outages, and keeps score.

Each *command* is one signed entry (a comment, or an evidence upload followed by the
`evidence_attached` entry naming it), sent with a fresh `command_id`. The client signs
once and re-sends the *same bytes with the same command id* after any attempt that got
no definitive answer, until one comes:

- an attempt's outcome is **unknown** when no response arrived (connection refused or
  reset, timeout) or the response was a 5xx: the server may or may not have recorded it;
- the command is **acknowledged** when an attempt gets a 2xx (including a replay: the
  server recognised the command id, or found these exact bytes already in the log);
- the command is **refused** when an attempt gets a 4xx (here: 409, the version was
  taken by someone else's entry); a refused entry must never be in the log.

So after the run, with every command settled, the log must hold exactly the entries of
the acknowledged commands: an entry that is present although one of its responses was
lost is one whose command was retried and then acknowledged (`replayed`); if the client
had to abandon a command unsettled (its outcome stays "unknown"), its entry may be
present or absent, and is counted separately, never as acknowledged.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from domain import Action, action_aggregate_id
from ledger.auditor.entry import SignedEntry
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.world import ORIGIN


@dataclass
class Command:
    kind: str  # "comment" or "evidence"
    command_id: str
    signature: str = ""  # hex of the entry's signature, once signed
    sha256: str | None = None
    attempts: int = 0
    unknown_attempts: int = 0
    outcome: str = "unknown"  # "acknowledged", "refused" or "unknown"
    replayed: bool = False
    answers: list[str] = field(default_factory=list)  # "path status error" per attempt


@dataclass
class Attempt:
    path: str
    status: int  # 0: no response
    seconds: float
    error: str | None = None  # the JSON "error" code of a non-2xx response
    retry_after: str | None = None
    finished: float = field(default_factory=time.monotonic)


@dataclass
class Tally:
    """Shared by every client thread; all updates under one lock."""

    commands: list[Command] = field(default_factory=list)
    uploads: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    in_flight: int = 0
    in_flight_paths: Counter[str] = field(default_factory=Counter)  # requests under way
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statuses(self) -> Counter[int]:
        with self.lock:
            return Counter(a.status for a in self.attempts)

    def settled(self, outcome: str) -> list[Command]:
        with self.lock:
            return [c for c in self.commands if c.outcome == outcome]


def wire(entry: SignedEntry) -> dict[str, Any]:
    obj = entry.to_json()
    return {"signature": obj.pop("signature"), "body": obj}


class Unsettled(Exception):
    """The client was told to give up on a command that had no definitive answer yet."""


class UnexpectedAnswer(Exception):
    """A status the protocol does not allow here (recorded in the tally)."""


class RetryingClient:
    def __init__(
        self,
        url: str,
        user_id: str,
        key: KeyPair,
        token: str,
        actions: list[str],
        tally: Tally,
        *,
        seed: int,
        evidence_every: int = 4,
        evidence_bytes: tuple[int, int] = (1_000, 300_000),
        retry_pause: float = 0.02,
    ) -> None:
        self.url = url
        self.signer = Signer(user_id, key, ORIGIN)
        self.token = token
        self.actions = actions
        self.tally = tally
        self.rng = random.Random(seed)
        self.evidence_every = evidence_every
        self.evidence_bytes = evidence_bytes
        self.retry_pause = retry_pause
        self.abandon = threading.Event()  # set: stop retrying, leave the command unknown

    def run(self, stop: threading.Event) -> None:
        """Issue commands until `stop` is set; the command under way is always settled
        (or abandoned) before returning."""
        with httpx.Client(
            base_url=self.url, timeout=15, headers={"Authorization": f"Bearer {self.token}"}
        ) as http:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    self._command(http, n)
                except (Unsettled, UnexpectedAnswer):
                    return
                except Exception as error:  # a client bug must fail the test, not vanish
                    with self.tally.lock:
                        self.tally.unexpected.append(f"{type(error).__name__}: {error}")
                    return

    # -- one command ---------------------------------------------------------------------

    def _command(self, http: httpx.Client, n: int) -> None:
        action_id = self.rng.choice(self.actions)
        evidence = n % self.evidence_every == 0
        command = Command("evidence" if evidence else "comment", uuid.uuid4().hex)
        with self.tally.lock:
            self.tally.commands.append(command)
        if evidence:
            size = self.rng.randint(*self.evidence_bytes)
            data = f"{self.signer.user_id} {n}\n".encode() + os.urandom(size)
            command.sha256 = hashlib.sha256(data).hexdigest()
            response = self._settle(
                command,
                lambda: http.post(
                    "/v1/evidence",
                    files={"file": ("evidence.bin", data)},
                    data={"sha256": command.sha256},
                ),
                "/v1/evidence",
            )
            if response.status_code != 201:
                self._unexpected(command, response)
                return
            with self.tally.lock:
                self.tally.uploads.add(command.sha256)
            stored = response.json()
            type_name = Action.EvidenceAttached.TYPE
            payload: dict[str, Any] = {
                "sha256": command.sha256,
                "size": len(data),
                "media_type": stored["media_type"],
                "original_name": "evidence.bin",
                "description": "reliability test evidence",
                "storage_key": stored["storage_key"],
                "effective_date": "2024-01-01",
            }
        else:
            type_name = Action.CommentAdded.TYPE
            payload = {"kind": "comment", "text": f"{self.signer.user_id} {n}"}
        aggregate = action_aggregate_id(action_id)
        version = self._version(http, command, aggregate)
        entry = self.signer.sign(type_name, aggregate, version + 1, payload)
        command.signature = entry.signature.hex()
        body = {"entries": [wire(entry)], "command_id": command.command_id}
        response = self._settle(command, lambda: http.post("/v1/entries", json=body), "/v1/entries")
        if response.status_code == 200:
            command.outcome = "acknowledged"
            command.replayed = bool(response.json().get("replayed"))
        elif response.status_code == 409:
            command.outcome = "refused"
        else:
            self._unexpected(command, response)

    def _version(self, http: httpx.Client, command: Command, aggregate: UUID) -> int:
        response = self._settle(
            command, lambda: http.get(f"/v1/aggregates/{aggregate}/version"), "version"
        )
        if response.status_code != 200:
            self._unexpected(command, response)
        return int(response.json()["version"])

    def _settle(self, command: Command, send: Any, path: str) -> httpx.Response:
        """Send until a definitive answer (2xx or 4xx); an unknown outcome is retried."""
        consecutive = 0
        while True:
            if self.abandon.is_set():
                raise Unsettled(command.command_id)
            command.attempts += 1
            with self.tally.lock:
                self.tally.in_flight += 1
                self.tally.in_flight_paths[path] += 1
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = send()
            except httpx.TransportError:
                pass
            finally:
                with self.tally.lock:
                    self.tally.in_flight -= 1
                    self.tally.in_flight_paths[path] -= 1
            seconds = time.perf_counter() - started
            attempt = Attempt(path, 0 if response is None else response.status_code, seconds)
            if response is not None and response.status_code >= 300:
                attempt.error = _error_code(response)
                attempt.retry_after = response.headers.get("retry-after")
            with self.tally.lock:
                self.tally.attempts.append(attempt)
            command.answers.append(f"{path} {attempt.status} {attempt.error or ''}".strip())
            if response is not None and response.status_code < 500:
                return response
            command.unknown_attempts += 1
            consecutive += 1
            # Back off while the server is down (20 ms doubling to 320 ms, jittered): quick
            # to notice the restart, without spinning on refused connections.
            pause = self.retry_pause * 2 ** min(consecutive - 1, 4)
            time.sleep(pause * (0.5 + self.rng.random()))

    def _unexpected(self, command: Command, response: httpx.Response) -> None:
        message = f"{command.kind} {command.command_id}: {response.status_code} {response.text}"
        with self.tally.lock:
            self.tally.unexpected.append(message[:500])
        raise UnexpectedAnswer(message[:500])


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("error")) if isinstance(body, dict) else None


def finish(
    stop: threading.Event,
    clients: list[RetryingClient],
    threads: list[threading.Thread],
    *,
    settle_seconds: float = 60.0,
) -> None:
    """Stop issuing commands, give each client up to `settle_seconds` in all to settle the
    command under way, then make any that has not give up (its outcome stays unknown)
    and wait for every thread: the tally is read only once nobody writes to it."""
    stop.set()
    deadline = time.monotonic() + settle_seconds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    for client in clients:
        client.abandon.set()
    for thread in threads:
        thread.join(timeout=60)
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} client threads did not stop"
