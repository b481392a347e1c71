"""Several processes, and several machines, serving one ledger (issue 18).

`serve --workers N` runs N processes on one port; a second API machine runs its own
`serve` against the same PostgreSQL and the same S3 bucket. Either way they are one
log: every acknowledged entry is in it once, at its own leaf, and the whole verifies.
The machines here are two server processes with their own home folders (a copy of the
log key and settings, as a deployment would provision them) on loopback."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.application.tokens import TokenStore
from domain import Action, action_aggregate_id
from evidence_store.config import EvidenceConfig
from ledger.config import LedgerConfig
from ledger.verify import verify_ledger
from tests.support.api_calls import wire
from tests.support.server import running_server
from tests.support.world import World, clear_store_settings, make_world

ACTIONS = [f"R1.{n}" for n in range(1, 9)]
PER_ACTION = 12


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The small world on PostgreSQL, on the real clock (the servers keep real time)."""
    clear_store_settings(monkeypatch)
    config = LedgerConfig(home=tmp_path / "home", database_url=postgres_url)
    world = make_world(config, RealClock())
    for action_id in ACTIONS:
        world.add_action(action_id)
    yield world
    world.ledger.close()


class RealClock:
    """The wall clock, with the `now` attribute tests read (tests/support/clock.py)."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC)


def server_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "INQUIRY_LEDGER_HOME": str(home),
        "INQUIRY_LEDGER_DATABASE_URL": database_url,
        "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "1",
        **extra,
    }


def children_of_server_on(url: str) -> list[int]:
    """The worker processes of the `serve` listening at `url` (from /proc)."""
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and port.encode() in argv:
            children = (proc / "task" / proc.name / "children").read_text().split()
            return [pid for pid in map(int, children) if _is_worker(pid)]
    return []


def _is_worker(pid: int) -> bool:
    """uvicorn's workers are spawned processes (not its resource tracker)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def hammer(world: World, urls: list[str], token: str) -> list[int]:
    """Each action gets PER_ACTION signed comments from its own thread, the thread's
    requests going round the servers; returns every leaf the servers acknowledged."""
    leaves: list[int] = []
    failures: list[str] = []

    def run(index: int, action_id: str) -> None:
        aggregate = action_aggregate_id(action_id)
        version = world.ledger.version_of(aggregate)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for n in range(PER_ACTION):
                version += 1
                entry = world.signer("council.officer").sign(
                    Action.CommentAdded.TYPE,
                    aggregate,
                    version,
                    {"kind": "comment", "text": f"{action_id} #{n}"},
                )
                url = urls[(index + n) % len(urls)]
                response = http.post(
                    f"{url}/v1/entries",
                    json={"entries": [wire(entry)], "command_id": uuid.uuid4().hex},
                )
                if response.status_code != 200:
                    failures.append(f"{url} {response.status_code} {response.text[:200]}")
                    return
                leaves.extend(e["leaf_index"] for e in response.json()["appended"])

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(ACTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures[:3]
    return leaves


def assert_one_whole_log(world: World, before: int, leaves: list[int]) -> None:
    assert len(leaves) == len(ACTIONS) * PER_ACTION
    assert sorted(leaves) == list(range(before, before + len(leaves)))  # each once, no gap
    world.ledger._integrate()
    assert world.ledger.tree_size() == before + len(leaves)
    report = verify_ledger(world.ledger, world.vkey)
    assert report.ok, report.problems[:5]


def test_serve_with_two_workers_is_one_log(pg_world: World) -> None:
    world = pg_world
    token = TokenStore(world.ledger.tables).create(
        "council.officer", timedelta(days=1), now=world.clock.now
    )
    env = server_env(world.config.home, str(world.config.database_url))
    before = world.ledger.tree_size()
    with running_server(env, workers=2) as url:
        assert len(children_of_server_on(url)) == 2
        leaves = hammer(world, [url], token)
    assert_one_whole_log(world, before, leaves)


def test_two_api_machines_share_one_database_and_one_bucket(
    pg_world: World, ceph_s3: Any, tmp_path: Path
) -> None:
    """Appends through both machines make one log; evidence uploaded through one is
    attached and downloaded through the other (one bucket, one upload record)."""
    world = pg_world
    bucket = {
        "INQUIRY_LEDGER_S3_BUCKET": f"two-machines-{uuid.uuid4().hex[:12]}",
        "INQUIRY_LEDGER_S3_ENDPOINT_URL": ceph_s3.endpoint_url,
        "INQUIRY_LEDGER_S3_ACCESS_KEY_ID": ceph_s3.access_key,
        "INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY": ceph_s3.secret_key,
    }
    second_home = tmp_path / "machine-b"
    EvidenceConfig.from_env(world.config.home, {}).kek()  # the evidence KEK (0600) too
    shutil.copytree(world.config.home, second_home)  # the log key, provisioned to both
    token = TokenStore(world.ledger.tables).create(
        "council.officer", timedelta(days=1), now=world.clock.now
    )
    database = str(world.config.database_url)
    before = world.ledger.tree_size()
    with (
        running_server(server_env(world.config.home, database, **bucket)) as machine_a,
        running_server(server_env(second_home, database, **bucket)) as machine_b,
    ):
        leaves = hammer(world, [machine_a, machine_b], token)
        auth = {"Authorization": f"Bearer {token}"}
        content = b"Minutes of the March assurance meeting\n"
        stored = httpx.post(
            f"{machine_a}/v1/evidence", files={"file": ("m.txt", content)}, headers=auth
        ).json()
        aggregate = action_aggregate_id("R1.1")
        entry = world.signer("council.officer").sign(
            Action.EvidenceAttached.TYPE,
            aggregate,
            world.ledger.version_of(aggregate) + 1,
            {
                "sha256": stored["sha256"],
                "size": stored["size"],
                "media_type": stored["media_type"],
                "original_name": "m.txt",
                "description": "Minutes",
                "storage_key": stored["storage_key"],
                "effective_date": "2024-03-01",
            },
        )
        attached = httpx.post(
            f"{machine_b}/v1/entries", json={"entries": [wire(entry)]}, headers=auth
        )
        assert attached.status_code == 200, attached.text
        leaves.extend(e["leaf_index"] for e in attached.json()["appended"])
        for machine in (machine_a, machine_b):
            got = httpx.get(f"{machine}/v1/evidence/{stored['sha256']}", headers=auth)
            assert got.status_code == 200, (machine, got.text)
            assert got.content == content
    world.ledger._integrate()
    assert world.ledger.tree_size() == before + len(leaves)
    assert sorted(leaves) == list(range(before, before + len(leaves)))
    report = verify_ledger(world.ledger, world.vkey)
    assert report.ok, report.problems[:5]
