"""Concurrency: 16 writer threads on PostgreSQL for a bounded time (60 s by default), in 4
`Ledger` instances that stand for 4 server processes (each its own connection pool and
its own append-lock session), while a 17th thread signs checkpoints.

Afterwards the Merkle leaves are exactly the notification log (every notification id
once, in order, leaf indexes 0..n-1 without gaps, each leaf the hash of its entry), the
log holds exactly the appends that were acknowledged, every checkpoint signed during the
run has the root of the tree at its size, consecutive checkpoints are connected by
consistency proofs, and the whole log verifies.
INQUIRY_LEDGER_CONCURRENCY_SECONDS shortens or lengthens the run."""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain import Action, action_aggregate_id
from ledger.auditor import merkle
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.entry import SignedEntry
from ledger.config import LedgerConfig
from ledger.errors import VersionConflict
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer
from ledger.verify import verify_ledger
from tests.support.world import ORIGIN, make_world

WRITERS = 16
INSTANCES = 4  # Ledger objects, i.e. server processes; 4 writer threads share each
ACTIONS = 12  # per agency; neighbouring writers share actions, so appends collide
SECONDS = float(os.environ.get("INQUIRY_LEDGER_CONCURRENCY_SECONDS", "60"))

pytestmark = pytest.mark.reliability


@dataclass(frozen=True)
class SmallPoolConfig(LedgerConfig):
    """The shared test server allows 100 connections in all, and other tests run beside
    this one: 4 ledgers with the service's 10 kept connections each would take 44. Four
    writer threads and a checkpointer need at most 5 at a time per ledger."""

    def eventsourcing_env(self) -> dict[str, str]:
        env = super().eventsourcing_env()
        env.update(POSTGRES_POOL_SIZE="2", POSTGRES_MAX_OVERFLOW="4")
        return env


def _all_notifications(ledger: Ledger) -> list[tuple[int, bytes]]:
    found: list[tuple[int, bytes]] = []
    start = None
    while True:
        page = ledger.app.recorder.select_notifications(start=start, limit=1000)
        if not page:
            return found
        found.extend((n.id, bytes(n.state)) for n in page)
        start = page[-1].id + 1


def test_16_writers_keep_one_dense_tree_and_consistent_checkpoints(
    postgres_url: str, tmp_path: Path
) -> None:
    config = SmallPoolConfig(home=tmp_path / "home", database_url=postgres_url)
    world = make_world(config, clock=lambda: datetime.now(UTC))
    for agency, rec in (("council", 1), ("police", 2)):
        for i in range(1, ACTIONS + 1):
            world.add_action(f"R{rec}.{i}", lead=agency)
    writers: list[tuple[Signer, list[str]]] = []
    for i in range(WRITERS):
        agency, rec = ("council", 1) if i % 2 == 0 else ("police", 2)
        user, key = f"{agency}.writer{i:02d}", KeyPair.generate()
        world.client(f"{agency}.lead").register_user(user, user, "officer", agency, key.public_key)
        # A window of 3 actions shifted by 1 per writer of the agency: heavy overlap.
        window = [f"R{rec}.{(i // 2 + n) % ACTIONS + 1}" for n in range(3)]
        writers.append((Signer(user, key, ORIGIN), window))
    log_signer = world.log_signer
    baseline = world.ledger.tree_size()
    world.ledger.close()

    ledgers = [Ledger(config) for _ in range(INSTANCES)]
    deadline = time.monotonic() + SECONDS
    accepted: list[str] = []
    errors: list[str] = []
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def write(index: int) -> None:
        signer, window = writers[index]
        ledger = ledgers[index % INSTANCES]
        rng = random.Random(index)
        mine: list[str] = []
        local: Counter[str] = Counter()
        n = 0
        try:
            while time.monotonic() < deadline:
                n += 1
                # Mostly single entries; every fourth append is an atomic batch of two.
                targets = rng.sample(window, 2 if n % 4 == 0 else 1)
                entries: list[SignedEntry] = []
                for action_id in targets:
                    aggregate = action_aggregate_id(action_id)
                    entries.append(
                        signer.sign(
                            Action.CommentAdded.TYPE,
                            aggregate,
                            ledger.version_of(aggregate) + 1,
                            {"kind": "comment", "text": f"{signer.user_id} {n}"},
                        )
                    )
                try:
                    ledger.append(entries)
                except VersionConflict:
                    local["conflicts"] += 1
                    continue
                local["appends"] += 1
                mine.extend(e.signature.hex() for e in entries)
        except Exception as error:  # reported below; a dead thread must fail the test
            errors.append(f"writer {index}: {type(error).__name__}: {error}")
        with lock:
            accepted.extend(mine)
            counts.update(local)

    def checkpoint() -> None:
        try:
            while time.monotonic() < deadline:
                ledgers[0].sign_checkpoint(log_signer)
                time.sleep(0.2)
        except Exception as error:
            errors.append(f"checkpointer: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    threads.append(threading.Thread(target=checkpoint))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    elapsed = time.perf_counter() - started
    for ledger in ledgers:
        ledger.close()
    assert not any(t.is_alive() for t in threads), "a writer did not stop"
    assert not errors, errors[:5]

    with Ledger(config) as ledger:
        ledger.integrate()
        notifications = _all_notifications(ledger)
        leaves = ledger.tables.leaves(0, len(notifications) + 10)
        # Leaf i is notification i of the log, in order, each exactly once.
        assert [leaf for leaf, _, _ in leaves] == list(range(len(notifications)))
        assert [nid for _, nid, _ in leaves] == [nid for nid, _ in notifications]
        assert len({nid for nid, _ in notifications}) == len(notifications)
        assert all(
            h == merkle.leaf_hash(state)
            for (_, _, h), (_, state) in zip(leaves, notifications, strict=True)
        )
        # Exactly the acknowledged appends, each once.
        logged = [
            SignedEntry.from_entry_bytes(state).signature.hex()
            for _, state in notifications[baseline:]
        ]
        assert len(logged) == len(set(logged)), "an entry was stored twice"
        assert set(logged) == set(accepted) and len(accepted) == len(set(accepted))

        stored = ledger.tables.checkpoints()
        assert len(stored) >= 10, f"only {len(stored)} checkpoints were signed"
        for checkpoint_ in stored:
            signed = Checkpoint.verify(checkpoint_.note, world.vkey)
            assert (signed.size, signed.root_hash) == (checkpoint_.tree_size, checkpoint_.root_hash)
            assert ledger.root_hash(checkpoint_.tree_size) == checkpoint_.root_hash
        for old, new in itertools.pairwise(stored):
            proof = ledger.consistency_proof(old.tree_size, new.tree_size)
            assert merkle.verify_consistency(
                old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
            ), (old.tree_size, new.tree_size)

        world.ledger = ledger
        world.checkpoint()
        report = verify_ledger(ledger, world.vkey)
        assert report.ok, report.problems[:5]

    summary: dict[str, Any] = {
        "writers": WRITERS,
        "ledger_instances": INSTANCES,
        "seconds": round(elapsed, 1),
        "appends": counts["appends"],
        "entries": len(accepted),
        "version_conflicts": counts["conflicts"],
        "checkpoints": len(stored),
        "tree_size": len(notifications),
        "entries_per_s": round(len(accepted) / elapsed, 1),
    }
    print(json.dumps(summary))
