"""Signed events per second through the HTTP API vs direct library appends, same run.

    python bench/api.py [--clients 8] [--seconds 20] [--backend postgres|sqlite]

Both phases use the same ledger database and the same workload: C client threads, each
an officer with its own key and its own actions (so the rate measured is the ledger's,
not the conflict rate), each appending one signed comment per call, for S seconds.
  direct  the threads call Ledger.append() in this process
  http    the threads POST /v1/entries to `inquiry-ledger serve` (uvicorn, one process)
Clients track their own versions, so each entry costs one call in both phases.
Goal (issue 4): http >= 40% of direct with 8 clients on PostgreSQL.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from api.application.tokens import TokenStore  # noqa: E402
from bench.common import (  # noqa: E402
    create_pg_database,
    drop_pg_database,
    facts_markdown,
    machine_facts,
    md_table,
    text_table,
    write_results,
)
from domain import Action, action_aggregate_id  # noqa: E402
from ledger.config import LedgerConfig  # noqa: E402
from ledger.keys import KeyPair  # noqa: E402
from ledger.service import Ledger  # noqa: E402
from ledger.signer import Signer  # noqa: E402
from tests.support.load import percentiles  # noqa: E402
from tests.support.server import running_server  # noqa: E402
from tests.support.world import ORIGIN, make_world  # noqa: E402

ACTIONS_PER_CLIENT = 4


def utc_now() -> datetime:
    return datetime.now(UTC)


class Client:
    def __init__(self, user: str, key: KeyPair, actions: list[str], token: str) -> None:
        self.user, self.key, self.actions, self.token = user, key, actions, token
        self.signer = Signer(user, key, ORIGIN, clock=utc_now)
        self.versions = dict.fromkeys(actions, 1)
        self.n = 0

    def next_entry(self) -> Any:
        action_id = self.actions[self.n % len(self.actions)]
        self.n += 1
        self.versions[action_id] += 1
        return self.signer.sign(
            Action.CommentAdded.TYPE,
            action_aggregate_id(action_id),
            self.versions[action_id],
            {"kind": "comment", "text": f"{self.user} comment {self.n}"},
        )


def setup(config: LedgerConfig, clients: int) -> list[Client]:
    world = make_world(config, utc_now)
    result = []
    tokens = TokenStore(world.ledger.tables)
    for i in range(clients):
        agency = "council" if i % 2 == 0 else "police"
        rec = 1 if agency == "council" else 2
        actions = [f"R{rec}.{i * ACTIONS_PER_CLIENT + n}" for n in range(1, ACTIONS_PER_CLIENT + 1)]
        for action_id in actions:
            world.add_action(action_id, lead=agency)
        key = KeyPair.generate()
        user = f"{agency}.bench{i:02d}"
        world.client(f"{agency}.lead").register_user(user, user, "officer", agency, key.public_key)
        result.append(Client(user, key, actions, tokens.create(user, timedelta(hours=2))))
    world.ledger.close()
    return result


def run_threads(clients: list[Client], seconds: float, call: Any) -> tuple[int, list[float]]:
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    count = [0]
    lock = threading.Lock()

    def worker(client: Client) -> None:
        mine: list[float] = []
        state = call.setup(client) if hasattr(call, "setup") else None
        while time.monotonic() < deadline:
            entry = client.next_entry()
            start = time.perf_counter()
            call(client, entry, state)
            mine.append(time.perf_counter() - start)
        if hasattr(call, "teardown"):
            call.teardown(state)
        with lock:
            latencies.extend(mine)
            count[0] += len(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count[0], latencies


class Direct:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __call__(self, client: Client, entry: Any, state: Any) -> None:
        self.ledger.append([entry])


class Http:
    def __init__(self, url: str) -> None:
        self.url = url

    def setup(self, client: Client) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {client.token}"}
        )

    def teardown(self, http: httpx.Client) -> None:
        http.close()

    def __call__(self, client: Client, entry: Any, http: httpx.Client) -> None:
        obj = entry.to_json()
        signature = obj.pop("signature")
        response = http.post(
            "/v1/entries", json={"entries": [{"body": obj, "signature": signature}]}
        )
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    facts = machine_facts()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    database = None
    url = None
    if args.backend == "postgres":
        database, url = create_pg_database("api")
    config = LedgerConfig(home=home, database_url=url)
    try:
        clients = setup(config, args.clients)
        with Ledger(config, clock=utc_now) as ledger:
            start_size = ledger.tree_size()
            started = time.perf_counter()
            direct_n, direct_lat = run_threads(clients, args.seconds, Direct(ledger))
            direct_s = time.perf_counter() - started
        env = {"INQUIRY_LEDGER_HOME": str(home)}
        if url:
            env["INQUIRY_LEDGER_DATABASE_URL"] = url
        with running_server(env) as base:
            started = time.perf_counter()
            http_n, http_lat = run_threads(clients, args.seconds, Http(base))
            http_s = time.perf_counter() - started
        with Ledger(config) as ledger:
            appended = ledger.tree_size() - start_size
        assert appended == direct_n + http_n, (appended, direct_n, http_n)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if database:
            drop_pg_database(database)
    direct_rate, http_rate = direct_n / direct_s, http_n / http_s
    rows = [
        [
            "direct Ledger.append",
            args.clients,
            direct_n,
            f"{direct_rate:,.0f}",
            *(f"{v:.1f}" for v in percentiles(direct_lat).values()),
        ],
        [
            "HTTP POST /v1/entries",
            args.clients,
            http_n,
            f"{http_rate:,.0f}",
            *(f"{v:.1f}" for v in percentiles(http_lat).values()),
        ],
    ]
    headers = ["path", "clients", "events", "events/s", "p50 ms", "p95 ms", "p99 ms"]
    ratio = http_rate / direct_rate
    print(text_table(headers, rows))
    print(f"http/direct = {ratio:.2f} (goal >= 0.40: {'met' if ratio >= 0.4 else 'NOT met'})")
    markdown = (
        f"# HTTP API vs direct appends ({args.backend}, {args.clients} clients, "
        f"{args.seconds:.0f} s each)\n\n"
        + facts_markdown(facts)
        + "\n"
        + md_table(headers, rows)
        + f"\nhttp/direct = **{ratio:.2f}** (goal >= 0.40). Every appended entry was counted "
        "in the log afterwards.\n"
    )
    write_results(
        f"api_{args.backend}",
        {
            "facts": facts,
            "clients": args.clients,
            "seconds": args.seconds,
            "direct": {"events": direct_n, "rate": direct_rate, **percentiles(direct_lat)},
            "http": {"events": http_n, "rate": http_rate, **percentiles(http_lat)},
            "ratio": ratio,
        },
        markdown,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
