"""A bounded load generator for the HTTP API (loopback only), shared by the load test and
bench/api.py: N client threads, each a registered officer with its own key and token,
posting signed comments and (every few requests) evidence uploads with their
evidence_attached entries, for a fixed time. Conflicts (409) are answered by re-reading
the version and signing again, as a real client would."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from domain import Action, action_aggregate_id
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.world import ORIGIN


@dataclass
class Outcome:
    kind: str  # "entry" or "evidence"
    status: int
    seconds: float
    signatures: list[str] = field(default_factory=list)


@dataclass
class LoadClient:
    user_id: str
    key: KeyPair
    token: str
    actions: list[str]


def _wire(entry: Any) -> dict[str, Any]:
    obj = entry.to_json()
    return {"signature": obj.pop("signature"), "body": obj}


def run_load(
    url: str, clients: list[LoadClient], seconds: float, *, evidence_every: int = 5, seed: int = 7
) -> list[Outcome]:
    deadline = time.monotonic() + seconds
    results: list[Outcome] = []
    lock = threading.Lock()

    def worker(client: LoadClient, index: int) -> None:
        rng = random.Random(seed + index)
        signer = Signer(client.user_id, client.key, ORIGIN)
        outcomes: list[Outcome] = []
        try:
            _drive(client, rng, signer, outcomes)
        except httpx.HTTPError as error:
            # A transport failure (timeout, reset) is an outcome to report, not a thread
            # that dies silently taking its earlier outcomes with it.
            outcomes.append(Outcome(f"transport error: {type(error).__name__}", 0, 0.0))
        with lock:
            results.extend(outcomes)

    def _drive(
        client: LoadClient, rng: random.Random, signer: Signer, outcomes: list[Outcome]
    ) -> None:
        with httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {client.token}"}
        ) as http:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                action_id = rng.choice(client.actions)
                aggregate = action_aggregate_id(action_id)
                entry_payload: tuple[str, dict[str, Any]]
                if n % evidence_every == 0:
                    data = f"{client.user_id} evidence {n} {rng.getrandbits(64)}\n".encode()
                    data += os.urandom(rng.randint(100, 4000))
                    sha = hashlib.sha256(data).hexdigest()
                    start = time.perf_counter()
                    response = http.post(
                        "/v1/evidence", files={"file": ("e.bin", data)}, data={"sha256": sha}
                    )
                    outcomes.append(
                        Outcome("evidence", response.status_code, time.perf_counter() - start)
                    )
                    if response.status_code != 201:
                        continue
                    stored = response.json()
                    entry_payload = (
                        Action.EvidenceAttached.TYPE,
                        {
                            "sha256": sha,
                            "size": len(data),
                            "media_type": stored["media_type"],
                            "original_name": "e.bin",
                            "description": "load test evidence",
                            "storage_key": stored["storage_key"],
                            "effective_date": "2024-01-01",
                        },
                    )
                else:
                    entry_payload = (
                        Action.CommentAdded.TYPE,
                        {"kind": "comment", "text": f"load {client.user_id} {n}"},
                    )
                for _attempt in range(5):
                    version = http.get(f"/v1/aggregates/{aggregate}/version").json()["version"]
                    entry = signer.sign(
                        entry_payload[0], UUID(str(aggregate)), version + 1, entry_payload[1]
                    )
                    signature = base64.b64encode(entry.signature).decode()
                    start = time.perf_counter()
                    response = http.post("/v1/entries", json={"entries": [_wire(entry)]})
                    outcomes.append(
                        Outcome(
                            "entry", response.status_code, time.perf_counter() - start, [signature]
                        )
                    )
                    if response.status_code != 409:
                        break

    threads = [threading.Thread(target=worker, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"p50_ms": at(0.50) * 1000, "p95_ms": at(0.95) * 1000, "p99_ms": at(0.99) * 1000}
