"""Load: 32 concurrent clients posting signed events and evidence for 60 s against a real
server on PostgreSQL with evidence in Ceph (loopback only, bounded in time). Afterwards
every 2xx entry is in the log, no entry is in the log without a 2xx, and the log verifies.
INQUIRY_LEDGER_LOAD_SECONDS shortens or lengthens the run."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.application.tokens import TokenStore
from ledger.auditor.entry import SignedEntry
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.verify import verify_ledger
from tests.support.load import LoadClient, percentiles, run_load
from tests.support.server import running_server
from tests.support.world import make_world

CLIENTS = 32
ACTIONS = 32  # per agency: clients mostly write to different actions, sometimes collide
SECONDS = float(os.environ.get("INQUIRY_LEDGER_LOAD_SECONDS", "60"))


def test_32_clients_for_a_minute_lose_nothing(
    postgres_url: str, ceph_s3: Any, tmp_path: Path
) -> None:
    env = {
        "INQUIRY_LEDGER_HOME": str(tmp_path / "home"),
        "INQUIRY_LEDGER_DATABASE_URL": postgres_url,
        "INQUIRY_LEDGER_S3_BUCKET": f"load-{uuid.uuid4().hex[:12]}",
        "INQUIRY_LEDGER_S3_ENDPOINT_URL": ceph_s3.endpoint_url,
        "INQUIRY_LEDGER_S3_ACCESS_KEY_ID": ceph_s3.access_key,
        "INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY": ceph_s3.secret_key,
        "INQUIRY_LEDGER_S3_RETENTION_DAYS": "1",
    }
    config = LedgerConfig(home=tmp_path / "home", database_url=postgres_url)
    world = make_world(config, clock=lambda: datetime.now(UTC))
    clients = []
    for agency in ("council", "police"):
        actions = [f"R{1 if agency == 'council' else 2}.{i}" for i in range(1, ACTIONS + 1)]
        for action_id in actions:
            world.add_action(action_id, lead=agency)
    tokens = TokenStore(world.ledger.tables)
    for i in range(CLIENTS):
        agency = "council" if i % 2 == 0 else "police"
        key = KeyPair.generate()
        user = f"{agency}.load{i:02d}"
        world.client(f"{agency}.lead").register_user(user, user, "officer", agency, key.public_key)
        rec = 1 if agency == "council" else 2
        clients.append(
            LoadClient(
                user,
                key,
                tokens.create(user, timedelta(hours=1)),
                # A window of 4 of the agency's 32 actions, shifted by 2 per client: each
                # action is shared by two neighbouring clients, so updates sometimes collide.
                [f"R{rec}.{(i // 2 * 2 + n) % ACTIONS + 1}" for n in range(4)],
            )
        )
    baseline = world.ledger.tree_size()
    world.ledger.close()

    with running_server(env) as url:
        started = time.perf_counter()
        outcomes = run_load(url, clients, SECONDS)
        elapsed = time.perf_counter() - started

    entries = [o for o in outcomes if o.kind == "entry"]
    uploads = [o for o in outcomes if o.kind == "evidence"]
    accepted = {o.signatures[0] for o in entries if 200 <= o.status < 300}
    statuses = sorted({o.status for o in outcomes})
    failures = Counter((o.kind, o.status) for o in outcomes if o.status not in {200, 201, 409})
    assert accepted and not failures, (statuses, failures)

    with Ledger(config) as ledger:
        logged = [
            base64.b64encode(SignedEntry.from_entry_bytes(data).signature).decode()
            for index, data in ledger.entries()
            if index >= baseline
        ]
        assert len(logged) == len(set(logged)), "an entry was stored twice"
        assert set(logged) == accepted, "2xx responses and log entries differ"
        world.ledger = ledger
        world.checkpoint()
        report = verify_ledger(ledger, world.vkey)
        assert report.ok, report.problems[:5]

    summary = {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "requests": len(outcomes),
        "entries_accepted": len(accepted),
        "conflicts_409": sum(o.status == 409 for o in entries),
        "evidence_uploads": len(uploads),
        "entries_per_s": round(len(accepted) / elapsed, 1),
        "entry_latency": percentiles([o.seconds for o in entries if o.status == 200]),
        "upload_latency": percentiles([o.seconds for o in uploads if o.status == 201]),
    }
    print(json.dumps(summary, indent=2))
    (tmp_path / "load-summary.json").write_text(json.dumps(summary, indent=2))
