"""Signed appends per second as the load rises: direct Ledger.append vs the HTTP API.

    python bench/api.py [--clients 8 32 128] [--seconds 8] [--backend postgres sqlite]
                        [--workers N] [--label NAME] [--out PATH] [--quiet-load 1.0]
    python bench/api.py --compare BASELINE.json NOW.json [--name issue18_throughput]

For each backend and each client count C, on a fresh ledger database: C client threads,
each an officer with its own key and its own actions (so the rate measured is the
ledger's, not the conflict rate), each appending one signed comment per call, for S
seconds.
  direct  the threads call Ledger.append() in this process
  http    the threads POST /v1/entries to `inquiry-ledger serve --workers N` on loopback
          (one process when the code measured has no --workers: the baseline)
Clients track their own versions, so each entry costs one call in both phases.

CPU per entry is counted, not inferred from wall time (the machine is shared and has
two cores). Direct phase: thread CPU (`time.thread_time`) inside the ledger's own steps,
by wrapping them on the instance as bench/common.py's PhaseTimer does (no library file
is touched), plus the PostgreSQL backends' CPU from /proc. HTTP phase: the server's CPU
(the process and every worker it started, /proc/<pid>/stat), the backends', and this
process's (the load generator: signing, httpx). Issue 18's goals: HTTP >= 1,000/s at 32
clients on PostgreSQL with p99 <= 100 ms; at 128 clients no lower than at 8; direct
>= 3,000/s with 32 threads. `--compare` writes the baseline-vs-now report from two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

import ledger.service as service_module  # noqa: E402
from api.application.checkpoints import server_receipts  # noqa: E402
from api.application.tokens import TokenStore  # noqa: E402
from bench.common import (  # noqa: E402
    PG_ADMIN_URL,
    RESULTS,
    create_pg_database,
    drop_pg_database,
    facts_markdown,
    machine_facts,
    md_table,
    text_table,
    write_results,
)
from domain import Action, action_aggregate_id  # noqa: E402
from ledger.auditor.entry import EventBody, SignedEntry  # noqa: E402
from ledger.config import LedgerConfig  # noqa: E402
from ledger.keys import KeyPair  # noqa: E402
from ledger.service import Ledger  # noqa: E402
from ledger.signer import Signer  # noqa: E402
from tests.support.load import percentiles  # noqa: E402
from tests.support.server import free_port  # noqa: E402
from tests.support.world import ORIGIN, make_world  # noqa: E402

ACTIONS_PER_CLIENT = 4
#: Requests timed in-process after the direct phase for the HTTP-only costs (receipts).
PROBES = 100
TICK = os.sysconf("SC_CLK_TCK")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Client:
    def __init__(self, user: str, key: KeyPair, actions: list[str], token: str) -> None:
        self.user, self.key, self.actions, self.token = user, key, actions, token
        self.signer = Signer(user, key, ORIGIN, clock=utc_now)
        self.versions = dict.fromkeys(actions, 1)
        self.n = 0

    def next_entry(self) -> SignedEntry:
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
        user = f"{agency}.bench{i:03d}"
        world.client(f"{agency}.lead").register_user(user, user, "officer", agency, key.public_key)
        result.append(Client(user, key, actions, tokens.create(user, timedelta(hours=2))))
    world.ledger.close()
    return result


# -- CPU accounting ----------------------------------------------------------------------


class CpuTimer:
    """Thread CPU and wall seconds spent inside wrapped callables, per label.

    Thread CPU, not wall: with C threads on two cores a step's wall time includes waiting
    for the GIL, which is another thread's work. A `gated` label counts only calls made
    while this thread is inside the ledger (`enter`/`leave`), so a method the clients
    also call (EventBody.signing_bytes, when signing) is counted for the ledger only."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.missing: list[str] = []
        self._inside = threading.local()
        self._restore: list[tuple[Any, str, Any]] = []

    def add(self, label: str, cpu: float, wall: float) -> None:
        self.cpu[label] = self.cpu.get(label, 0.0) + cpu
        self.wall[label] = self.wall.get(label, 0.0) + wall
        self.calls[label] = self.calls.get(label, 0) + 1

    def wrap(self, owner: Any, attr: str, label: str, *, gated: bool = False) -> None:
        original = getattr(owner, attr, None)
        if original is None or not callable(original):
            self.missing.append(label)
            return
        timer, inside = self, self._inside

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if gated and not getattr(inside, "depth", 0):
                return original(*args, **kwargs)
            inside.depth = getattr(inside, "depth", 0) + 1
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                inside.depth -= 1
                timer.add(label, time.thread_time() - cpu, time.perf_counter() - wall)

        if isinstance(owner, (type, type(sys))):
            self._restore.append((owner, attr, original))  # shared: put back afterwards
        setattr(owner, attr, wrapper)

    def wrap_lock(self, ledger: Ledger, label: str) -> None:
        """Time taking and releasing the append lock (an advisory-lock round trip on
        PostgreSQL, an flock on SQLite), not the work done while holding it."""
        original = ledger.append_lock
        timer = self

        class Timed:
            def __enter__(self) -> None:
                self.inner = original()
                cpu, wall = time.thread_time(), time.perf_counter()
                self.inner.__enter__()
                timer.add(label, time.thread_time() - cpu, time.perf_counter() - wall)

            def __exit__(
                self, kind: type[BaseException] | None, error: Any, tb: TracebackType | None
            ) -> None:
                cpu, wall = time.thread_time(), time.perf_counter()
                self.inner.__exit__(kind, error, tb)
                timer.add(label, time.thread_time() - cpu, time.perf_counter() - wall)

        ledger.append_lock = Timed  # type: ignore[method-assign]

    def restore(self) -> None:
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()


def instrument(ledger: Ledger) -> CpuTimer:
    timer = CpuTimer()
    timer.wrap(ledger, "append", "append")
    timer.wrap(ledger, "_check_all", "check")
    timer.wrap(ledger, "_require_signatures", "signatures")
    timer.wrap(service_module, "to_domain_event", "parse", gated=True)
    timer.wrap(service_module, "entry_bytes_from_body", "parse", gated=True)
    timer.wrap(EventBody, "signing_bytes", "parse", gated=True)
    timer.wrap(ledger.app, "record", "storage")
    timer.wrap(ledger, "_integrate", "merkle")
    timer.wrap_lock(ledger, "lock")
    return timer


def split_per_entry(timer: CpuTimer, entries: int) -> dict[str, float]:
    """CPU microseconds per entry of each step; `rules` is the rest of the checks (rules,
    timestamps, directory lookup, state), `other` the rest of append (grouping, results)."""
    cpu = {label: 1e6 * seconds / max(1, entries) for label, seconds in timer.cpu.items()}
    get = cpu.get
    check = get("check", 0.0)
    out = {
        "parse": get("parse", 0.0),
        "signatures": get("signatures", 0.0),
        "rules": check - get("parse", 0.0) - get("signatures", 0.0),
        "lock": get("lock", 0.0),
        "storage": get("storage", 0.0),
        "merkle": get("merkle", 0.0),
    }
    out["other"] = get("append", 0.0) - check - out["lock"] - out["storage"] - out["merkle"]
    out["ledger_total"] = get("append", 0.0)
    return {key: round(value, 1) for key, value in out.items()}


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) of a live process; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(root: int) -> list[int]:
    """`root` and every live process below it (uvicorn's workers, their helpers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


class CpuSample:
    """CPU seconds of a set of processes at one moment, by pid, to subtract later: a pid
    that appeared since counts from zero, one that ended is lost (and counted as lost)."""

    def __init__(self, pids: list[int]) -> None:
        self.by_pid = {pid: proc_cpu(pid) for pid in pids}

    def since(self, before: CpuSample) -> tuple[float, int]:
        used = sum(cpu - before.by_pid.get(pid, 0.0) for pid, cpu in self.by_pid.items())
        return used, len(set(before.by_pid) - set(self.by_pid))


def pg_backends(database: str | None) -> list[int]:
    if database is None:
        return []
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return [int(row[0]) for row in rows]


def self_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- the two phases -------------------------------------------------------------------------


class Run:
    """What one phase's threads did: calls completed, latencies, client signing CPU,
    and errors (a client stops at its first one: its versions are no longer right)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.sign_cpu = 0.0
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()


def run_threads(clients: list[Client], seconds: float, call: Any) -> Run:
    deadline = time.monotonic() + seconds
    run = Run()

    def worker(client: Client) -> None:
        mine: list[float] = []
        sign = 0.0
        error = None
        state = call.setup(client) if hasattr(call, "setup") else None
        try:
            while time.monotonic() < deadline:
                cpu = time.thread_time()
                entry = client.next_entry()
                sign += time.thread_time() - cpu
                start = time.perf_counter()
                call(client, entry, state)
                mine.append(time.perf_counter() - start)
        except Exception as exc:  # recorded and reported; the run is then not valid
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            if hasattr(call, "teardown"):
                call.teardown(state)
        with run.lock:
            run.latencies.extend(mine)
            run.sign_cpu += sign
            if error:
                run.errors[error] += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


class Direct:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __call__(self, client: Client, entry: SignedEntry, state: Any) -> None:
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

    def __call__(self, client: Client, entry: SignedEntry, http: httpx.Client) -> None:
        obj = entry.to_json()
        signature = obj.pop("signature")
        response = http.post(
            "/v1/entries", json={"entries": [{"body": obj, "signature": signature}]}
        )
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")


def serve_supports_workers() -> bool:
    return "--workers" in (REPO / "api" / "cli" / "setup.py").read_text()


@contextmanager
def server(env: dict[str, str], workers: int | None) -> Iterator[tuple[str, int, Path]]:
    """`inquiry-ledger serve` of this repository (cwd and PYTHONPATH are REPO, so the
    baseline worktree serves its own code), as tests/support/server.py starts it, but
    with its pid (for its CPU) and its log kept for the report."""
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    log_path = Path(tempfile.mkstemp(prefix="bench-api-serve-", suffix=".log")[1])
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server did not start: {log_path.read_text()}"
                    ) from None
                time.sleep(0.1)
        settle(process.pid)
        yield url, process.pid, log_path
    finally:
        process.terminate()
        process.wait(timeout=60)


def settle(pid: int, limit: float = 15.0) -> None:
    """Wait until every worker has started (the server's CPU stops rising), so the
    phase's CPU is the requests', not the imports'."""
    end = time.monotonic() + limit
    last = sum(proc_cpu(p) for p in descendants(pid))
    while time.monotonic() < end:
        time.sleep(0.5)
        now = sum(proc_cpu(p) for p in descendants(pid))
        if now - last < 0.02:
            return
        last = now


def probe_http_costs(ledger: Ledger, config: LedgerConfig, client: Client) -> dict[str, float]:
    """CPU per request of two things only the HTTP path does, timed in this process:
    parsing the wire entry (SignedEntry.from_json) and the receipt (one checkpoint
    signature plus the inclusion proof, api/application/checkpoints.py)."""
    parse = receipt = 0.0
    for _ in range(PROBES):
        entry = client.next_entry()
        wire = entry.to_json()
        cpu = time.thread_time()
        SignedEntry.from_json(wire)
        parse += time.thread_time() - cpu
        results = ledger.append([entry])
        cpu = time.thread_time()
        server_receipts(ledger, config, results)
        receipt += time.thread_time() - cpu
    return {
        "wire_parse_us": round(1e6 * parse / PROBES, 1),
        "receipt_us": round(1e6 * receipt / PROBES, 1),
    }


def server_errors(log: str) -> str:
    """The server's log without its access lines (one JSON line per request), whose
    volume would push a worker's traceback out of any tail."""
    lines = [line for line in log.splitlines() if not line.startswith('{"method"')]
    return "\n".join(lines[-300:])


def latency(run: Run) -> dict[str, float]:
    return {key: round(value, 2) for key, value in percentiles(run.latencies).items()}


def measure_cell(backend: str, clients_n: int, seconds: float, workers: int | None) -> Any:
    """One (backend, clients) cell on a fresh database: direct phase, then HTTP phase."""
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    database = url = None
    if backend == "postgres":
        database, url = create_pg_database("bench_api")
    config = LedgerConfig(home=home, database_url=url)
    cell: dict[str, Any] = {"backend": backend, "clients": clients_n}
    try:
        started = time.perf_counter()
        clients = setup(config, clients_n)
        cell["setup_seconds"] = round(time.perf_counter() - started, 1)
        with Ledger(config, clock=utc_now) as ledger:
            start_size = ledger.tree_size()
            group = getattr(ledger, "_group", None)
            before_groups = (group.groups, group.requests) if group else None
            timer = instrument(ledger)
            pg_before, cpu_before = CpuSample(pg_backends(database)), self_cpu()
            started = time.perf_counter()
            direct = run_threads(clients, seconds, Direct(ledger))
            elapsed = time.perf_counter() - started
            cpu_used = self_cpu() - cpu_before
            pg_used, pg_lost = CpuSample(pg_backends(database)).since(pg_before)
            timer.restore()
            n = len(direct.latencies)
            cell["direct"] = {
                "entries": n,
                "seconds": round(elapsed, 2),
                "rate": round(n / elapsed, 1),
                **latency(direct),
                "errors": dict(direct.errors),
                "cpu_us": split_per_entry(timer, n),
                "client_sign_us": round(1e6 * direct.sign_cpu / max(1, n), 1),
                "process_cpu_us": round(1e6 * cpu_used / max(1, n), 1),
                "postgres_backends_us": round(1e6 * pg_used / max(1, n), 1),
                "postgres_backends_lost": pg_lost,
                "untimed": timer.missing,
            }
            if group and before_groups:
                groups = group.groups - before_groups[0]
                requests = group.requests - before_groups[1]
                cell["direct"]["groups"] = groups
                cell["direct"]["group_requests"] = requests
                cell["direct"]["requests_per_group"] = round(requests / max(1, groups), 2)
            cell["http_only_probe"] = probe_http_costs(ledger, config, clients[0])
        env = {"INQUIRY_LEDGER_HOME": str(home)}
        if url:
            env["INQUIRY_LEDGER_DATABASE_URL"] = url
        with server(env, workers) as (base, pid, log_path):
            pids = descendants(pid)
            server_before = CpuSample(pids)
            pg_before, cpu_before = CpuSample(pg_backends(database)), self_cpu()
            started = time.perf_counter()
            http = run_threads(clients, seconds, Http(base))
            elapsed = time.perf_counter() - started
            cpu_used = self_cpu() - cpu_before
            pg_used, pg_lost = CpuSample(pg_backends(database)).since(pg_before)
            server_used, server_lost = CpuSample(descendants(pid)).since(server_before)
            processes = len(descendants(pid))
        log = log_path.read_text(errors="replace")
        log_path.unlink()
        n = len(http.latencies)
        cell["http"] = {
            "entries": n,
            "seconds": round(elapsed, 2),
            "rate": round(n / elapsed, 1),
            **latency(http),
            "errors": dict(http.errors),
            "server_processes": processes,
            "server_cpu_us": round(1e6 * server_used / max(1, n), 1),
            "server_processes_lost": server_lost,
            "server_cpu_cores": round(server_used / elapsed, 2),
            "load_generator_cpu_us": round(1e6 * cpu_used / max(1, n), 1),
            "load_generator_cpu_cores": round(cpu_used / elapsed, 2),
            "client_sign_us": round(1e6 * http.sign_cpu / max(1, n), 1),
            "postgres_backends_us": round(1e6 * pg_used / max(1, n), 1),
            "postgres_backends_lost": pg_lost,
            "server_traceback": server_errors(log) if "Traceback" in log else None,
            "server_log_head": log.splitlines()[:3],
        }
        with Ledger(config) as ledger:
            appended = ledger.tree_size() - start_size
        expected = cell["direct"]["entries"] + PROBES + n
        cell["log_count_ok"] = appended == expected
        cell["log_count"] = {"appended": appended, "expected": expected}
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if database:
            drop_pg_database(database)
    return cell


def wait_for_quiet(threshold: float, until: str | None) -> dict[str, Any]:
    """Poll the 1-minute load every 15 s until it is below `threshold` or it is `until`
    (HH:MM UTC, today); then measure anyway, and say so."""
    started = time.monotonic()
    deadline = None
    if until:
        hour, minute = (int(part) for part in until.split(":"))
        deadline = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    while os.getloadavg()[0] >= threshold and (deadline is None or datetime.now(UTC) < deadline):
        print(f"load {os.getloadavg()[0]:.2f} >= {threshold}: waiting", file=sys.stderr, flush=True)
        time.sleep(15)
    return {
        "threshold": threshold,
        "waited_seconds": round(time.monotonic() - started),
        "load_when_started": os.getloadavg(),
        "quiet": os.getloadavg()[0] < threshold,
    }


# -- one run: the matrix -----------------------------------------------------------------


def run_matrix(args: argparse.Namespace) -> int:
    quiet = wait_for_quiet(args.quiet_load, args.quiet_until) if args.quiet_load else None
    facts = machine_facts()
    workers: int | None = None
    if serve_supports_workers():
        workers = args.workers or len(os.sched_getaffinity(0))
    cells = []
    for backend in args.backend:
        for clients in args.clients:
            print(f"{backend} {clients} clients ...", file=sys.stderr, flush=True)
            cell = measure_cell(backend, clients, args.seconds, workers)
            cells.append(cell)
            d, h = cell["direct"], cell["http"]
            print(
                f"  direct {d['rate']:,.0f}/s (req/group {d.get('requests_per_group', '-')}), "
                f"http {h['rate']:,.0f}/s p99 {h.get('p99_ms', 0):.0f} ms, "
                f"errors {d['errors'] or h['errors'] or 'none'}",
                file=sys.stderr,
                flush=True,
            )
    payload = {
        "label": args.label,
        "facts": facts,
        "quiet": quiet,
        "loadavg_at_end": os.getloadavg(),
        "seconds": args.seconds,
        "workers": workers if workers is not None else 1,
        "workers_flag": workers is not None,
        "code": {"ledger.service": service_module.__file__, "repo": str(REPO)},
        "cells": cells,
    }
    out = Path(args.out) if args.out else RESULTS / f"api_{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(text_table(*run_rows(payload)))
    print(f"wrote {out}")
    return 0 if all(valid(cell) for cell in cells) else 1


def valid(cell: dict[str, Any]) -> bool:
    return bool(
        cell["log_count_ok"]
        and not cell["direct"]["errors"]
        and not cell["http"]["errors"]
        and not cell["http"]["server_traceback"]
    )


def run_rows(run: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    headers = ["backend", "clients", "direct/s", "req/group", "http/s", "p50 ms", "p99 ms", "ok"]
    rows = [
        [
            c["backend"],
            c["clients"],
            f"{c['direct']['rate']:,.0f}",
            c["direct"].get("requests_per_group", "-"),
            f"{c['http']['rate']:,.0f}",
            f"{c['http'].get('p50_ms', 0):.1f}",
            f"{c['http'].get('p99_ms', 0):.1f}",
            "yes" if valid(c) else "NO",
        ]
        for c in run["cells"]
    ]
    return headers, rows


# -- the report: baseline vs now ---------------------------------------------------------


def ratio(now: float, base: float) -> str:
    return f"{now / base:.2f}x" if base else "-"


def cells_by(run: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(c["backend"], c["clients"]): c for c in run["cells"]}


def throughput_table(base: dict[str, Any], now: dict[str, Any], backend: str) -> str:
    b, n = cells_by(base), cells_by(now)
    headers = [
        "clients",
        "direct/s base",
        "direct/s now",
        "ratio",
        "req/group now",
        "HTTP/s base",
        "HTTP/s now",
        "ratio",
        "p50 ms base / now",
        "p99 ms base / now",
    ]
    rows = []
    for key in sorted(k for k in n if k[0] == backend):
        x, y = b.get(key), n[key]
        if x is None:
            continue
        rows.append(
            [
                key[1],
                f"{x['direct']['rate']:,.0f}",
                f"{y['direct']['rate']:,.0f}",
                ratio(y["direct"]["rate"], x["direct"]["rate"]),
                y["direct"].get("requests_per_group", "-"),
                f"{x['http']['rate']:,.0f}",
                f"{y['http']['rate']:,.0f}",
                ratio(y["http"]["rate"], x["http"]["rate"]),
                f"{x['http']['p50_ms']:.1f} / {y['http']['p50_ms']:.1f}",
                f"{x['http']['p99_ms']:.1f} / {y['http']['p99_ms']:.1f}",
            ]
        )
    return md_table(headers, rows)


def cpu_table(runs: list[tuple[str, dict[str, Any]]], backend: str) -> str:
    """CPU microseconds per entry: the direct phase's steps, then the HTTP phase's
    server total and what is left of it once the ledger's own work is taken out."""
    headers = [
        "variant",
        "clients",
        "parse",
        "sigs",
        "rules",
        "lock",
        "storage",
        "Merkle",
        "other",
        "ledger",
        "PG (direct)",
        "server (HTTP)",
        "HTTP = server - ledger",
        "of which receipt",
        "PG (HTTP)",
        "load gen (HTTP)",
    ]
    rows = []
    for name, run in runs:
        for cell in run["cells"]:
            if cell["backend"] != backend:
                continue
            cpu, http = cell["direct"]["cpu_us"], cell["http"]
            rows.append(
                [
                    name,
                    cell["clients"],
                    *(
                        f"{cpu[k]:.0f}"
                        for k in ("parse", "signatures", "rules", "lock", "storage", "merkle")
                    ),
                    f"{cpu['other']:.0f}",
                    f"**{cpu['ledger_total']:.0f}**",
                    f"{cell['direct']['postgres_backends_us']:.0f}",
                    f"**{http['server_cpu_us']:.0f}**",
                    f"{http['server_cpu_us'] - cpu['ledger_total']:.0f}",
                    f"{cell['http_only_probe']['receipt_us']:.0f}",
                    f"{http['postgres_backends_us']:.0f}",
                    f"{http['load_generator_cpu_us']:.0f}",
                ]
            )
    return md_table(headers, rows)


def goals(now: dict[str, Any]) -> list[tuple[str, str, bool]]:
    c = cells_by(now)
    out = []
    pg32 = c.get(("postgres", 32))
    if pg32:
        h = pg32["http"]
        out.append(
            (
                "HTTP >= 1,000/s at 32 clients on PostgreSQL, p99 <= 100 ms",
                f"{h['rate']:,.0f}/s, p99 {h['p99_ms']:.0f} ms",
                h["rate"] >= 1000 and h["p99_ms"] <= 100,
            )
        )
        d = pg32["direct"]
        out.append(
            (
                "direct >= 3,000/s with 32 threads (PostgreSQL)",
                f"{d['rate']:,.0f}/s",
                d["rate"] >= 3000,
            )
        )
    sq32 = c.get(("sqlite", 32))
    if sq32:
        d = sq32["direct"]
        out.append(
            ("direct >= 3,000/s with 32 threads (SQLite)", f"{d['rate']:,.0f}/s", d["rate"] >= 3000)
        )
    for backend in ("postgres", "sqlite"):
        low, high = c.get((backend, 8)), c.get((backend, 128))
        if low and high:
            for phase in ("direct", "http"):
                a, b = low[phase]["rate"], high[phase]["rate"]
                out.append(
                    (
                        f"{phase} at 128 clients >= at 8 ({backend})",
                        f"{b:,.0f} vs {a:,.0f}/s",
                        b >= a,
                    )
                )
    return out


def load_line(run: dict[str, Any]) -> str:
    quiet = run.get("quiet") or {}
    start = ", ".join(f"{x:.2f}" for x in run["facts"]["loadavg_at_start"])
    end = ", ".join(f"{x:.2f}" for x in run["loadavg_at_end"])
    waited = (
        f"waited {quiet['waited_seconds']} s for the 1-minute load < {quiet['threshold']} "
        f"({'reached' if quiet['quiet'] else 'not reached: measured anyway'}); "
        if quiet
        else ""
    )
    return f"{waited}load average at start {start}, at end {end}"


def compare(args: argparse.Namespace) -> int:
    base = json.loads(Path(args.compare[0]).read_text())
    now = json.loads(Path(args.compare[1]).read_text())
    runs = [(base["label"], base), (now["label"], now)]
    parts = [
        f"# Issue 18: throughput as load rises ({base['label']} vs {now['label']})\n\n",
        "Generated by `bench/api.py --compare` from two runs of `bench/api.py` "
        f"({now['seconds']:.0f} s per phase per cell, fresh database per cell).\n\n",
    ]
    for name, run in runs:
        parts.append(f"## Run: {name}\n\n" + facts_markdown(run["facts"]))
        parts.append(
            f"- Code measured: `{run['code']['repo']}`; HTTP phase with "
            f"{run['workers']} server process(es)"
            f"{'' if run['workers_flag'] else ' (this code has no serve --workers)'}\n"
            f"- Machine load: {load_line(run)}\n"
            f"- Every cell valid (no errors, no server traceback, log count = appends): "
            f"{'yes' if all(valid(c) for c in run['cells']) else 'NO'}\n\n"
        )
    for backend in ("postgres", "sqlite"):
        if any(c["backend"] == backend for c in now["cells"]):
            parts.append(f"## {backend}: appends/s, baseline vs now\n\n")
            parts.append(throughput_table(base, now, backend) + "\n")
            parts.append(f"CPU us per entry ({backend}):\n\n" + cpu_table(runs, backend) + "\n")
    parts.append("## Goals (issue 18), on the run `now`\n\n")
    parts.append(
        md_table(
            ["goal", "measured", "met"],
            [[g, m, "yes" if ok else "**no**"] for g, m, ok in goals(now)],
        )
    )
    payload = {"baseline": base, "now": now, "goals": goals(now)}
    json_path, md_path = write_results(args.name, payload, "".join(parts))
    print("".join(parts))
    print(f"wrote {json_path} and {md_path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument(
        "--backend", nargs="+", choices=["postgres", "sqlite"], default=["postgres", "sqlite"]
    )
    parser.add_argument(
        "--workers", type=int, help="serve --workers for the HTTP phase (default: the cores)"
    )
    parser.add_argument("--label", default="now", help="name of this run in the report")
    parser.add_argument("--out", help="raw JSON of this run (default results/api_<label>.json)")
    parser.add_argument(
        "--quiet-load", type=float, help="first wait for the 1-minute load to fall below this"
    )
    parser.add_argument("--quiet-until", help="HH:MM UTC: stop waiting then, measure anyway")
    parser.add_argument("--compare", nargs=2, metavar=("BASELINE", "NOW"))
    parser.add_argument("--name", default="issue18_throughput", help="--compare's results stem")
    args = parser.parse_args()
    return compare(args) if args.compare else run_matrix(args)


if __name__ == "__main__":
    sys.exit(main())
