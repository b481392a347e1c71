"""Shared pieces of the benchmarks: workload, clocks, backends, machine facts, builders.

Nothing here is imported by the ledger; it only drives the public API (Ledger.append,
Signer.sign, verify_ledger) the way a client and an auditor would.
"""

from __future__ import annotations

import base64
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results"
CACHE = Path(os.environ.get("INQUIRY_LEDGER_BENCH_CACHE", "/tmp/inquiry-ledger-bench-cache"))
PG_ADMIN_URL = os.environ.get(
    "INQUIRY_LEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ACTIONS_COUNT = 149
SLICES = 10


# -- clocks ------------------------------------------------------------------------------


class BenchClock:
    """A deterministic clock shared by the ledger and every signer (like tests' Clock),
    stepping 1 ms a call so that any batch size stays well inside the 5-minute skew."""

    def __init__(self, start: datetime | None = None, step_ms: float = 1.0) -> None:
        self.now = start or datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
        self.step = timedelta(milliseconds=step_ms)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


# -- memory ------------------------------------------------------------------------------


def rss_now_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_children_rss_kb() -> int:
    """Largest peak RSS of any waited-for child (e.g. a ProcessPoolExecutor worker)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# -- machine facts -----------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _pg_server_version() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception as error:  # the facts must never break a run
        return f"unavailable: {error}"


def code_fingerprint() -> dict[str, str]:
    """SHA-256 (12 hex) of the library files measured: others edit them concurrently."""
    out = {}
    for folder in ("ledger", "domain"):
        for path in sorted((REPO / folder).rglob("*.py")):  # ledger/auditor/ too
            name = path.relative_to(REPO).as_posix()
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


def machine_facts() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cwd": os.getcwd(),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_gb": round(mem_kb / 1024 / 1024, 1),
        "loadavg_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite_library": sqlite3.sqlite_version,
        "postgres_server": _pg_server_version(),
        "packages": {
            name: _version(name)
            for name in (
                "eventsourcing",
                "cryptography",
                "psycopg",
                "psycopg-binary",
                "psycopg-pool",
                "inquiry-ledger",
            )
        },
        "code_sha256_12": code_fingerprint(),
    }


# -- backends ----------------------------------------------------------------------------


def create_pg_database(prefix: str) -> tuple[str, str]:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_sizes(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        rows = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC"
        ).fetchall()
    return {
        "bytes": int(total[0]) if total else 0,
        "tables": {str(name): int(size) for name, size in rows},
    }


def sqlite_sizes(path: Path) -> dict[str, Any]:
    files = {}
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            files[candidate.name] = candidate.stat().st_size
    return {"bytes": sum(files.values()), "files": files}


@dataclass
class Store:
    """One database for one phase: a SQLite home folder, or a PostgreSQL database."""

    backend: str
    home: Path
    database_url: str | None = None
    pg_name: str | None = None

    @classmethod
    def create(cls, backend: str, root: Path, prefix: str) -> Store:
        root.mkdir(parents=True, exist_ok=True)
        home = root / f"{prefix}-{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            return cls(backend, home)
        if backend == "postgres":
            name, url = create_pg_database(f"bench_{prefix}")
            return cls(backend, home, url, name)
        raise ValueError(f"unknown backend {backend!r}")

    def sizes(self, sqlite_file: Path) -> dict[str, Any]:
        if self.database_url is not None:
            return pg_sizes(self.database_url)
        return sqlite_sizes(sqlite_file)

    def destroy(self) -> None:
        if self.pg_name is not None:
            drop_pg_database(self.pg_name)
        shutil.rmtree(self.home, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "home": str(self.home),
            "database_url": self.database_url,
            "pg_name": self.pg_name,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Store:
        return cls(obj["backend"], Path(obj["home"]), obj["database_url"], obj["pg_name"])


# -- the workload --------------------------------------------------------------------------

_CORPUS = (
    "the council met the police liaison to review progress on the safeguarding "
    "referral pathway minutes attached training completed for frontline staff audit "
    "of case files shows partial compliance further work needed before sign-off "
    "budget approved by cabinet awaiting confirmation from the partnership board risk "
    "remains while posts are vacant recruitment under way data-sharing agreement "
    "signed evidence uploaded survivors panel consulted on the draft guidance "
    "follow-up scheduled next quarter"
)
_WORDS = _CORPUS.split()
_EXTRA = ("£120k", "café", "—", "½", "naïve", "résumé")  # some non-ASCII text, as real notes
RAGS = ("red", "amber", "green")


def actions() -> list[tuple[str, str]]:
    """(action id, lead agency): 75 council actions under R1, 74 police under R2."""
    out = [(f"R1.{i}", "council") for i in range(1, 76)]
    out += [(f"R2.{i}", "police") for i in range(1, ACTIONS_COUNT - 75 + 1)]
    return out


@dataclass(frozen=True)
class Item:
    """One event of the workload: which action, which type, who, what payload."""

    action: int
    kind: str  # "comment" or "rating"
    user: str
    payload: dict[str, Any]


class Workload:
    """A deterministic, lazy stream of realistic events over ~150 actions.

    55% comments by the lead agency's officer, 10% challenges by the implementation
    group or the chair, 20% agency RAG ratings by the lead agency's lead, 15% review RAG
    ratings by the implementation group or the chair: all always permitted, so the
    stream can be any length. Texts are 30-400 characters, a few with non-ASCII."""

    def __init__(self, seed: int = 20240102) -> None:
        self.rng = random.Random(seed)
        self.actions = actions()
        self.texts = [self._text() for _ in range(4096)]
        self.counter = 0

    def _text(self) -> str:
        rng = self.rng
        words = rng.choices(_WORDS, k=rng.randint(5, 60))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(_EXTRA))
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."

    def next(self) -> Item:
        rng = self.rng
        self.counter += 1
        index = rng.randrange(len(self.actions))
        _, lead = self.actions[index]
        text = f"{rng.choice(self.texts)} [{self.counter}]"
        draw = rng.random()
        if draw < 0.55:
            return Item(index, "comment", f"{lead}.officer", {"kind": "comment", "text": text})
        if draw < 0.65:
            user = rng.choice(("sig", "chair"))
            return Item(index, "comment", user, {"kind": "challenge", "text": text})
        rating = rng.choice(RAGS)
        if draw < 0.85:
            payload = {"scope": "agency", "rating": rating, "reason": text}
            return Item(index, "rating", f"{lead}.lead", payload)
        payload = {"scope": "review", "rating": rating, "reason": text}
        return Item(index, "rating", rng.choice(("sig", "chair")), payload)

    def batches(self, n: int, batch: int) -> Iterator[list[Item]]:
        done = 0
        while done < n:
            size = min(batch, n - done)
            yield [self.next() for _ in range(size)]
            done += size


def fake_signature(counter: int) -> str:
    """88 base64 characters, the length of a real Ed25519 signature field."""
    return base64.b64encode(hashlib.sha512(counter.to_bytes(8, "big")).digest()).decode()


# -- slices: is the cost flat as the log grows? ------------------------------------------------


class SliceRecorder:
    """Accumulate per-batch timings into SLICES equal slices of the run."""

    def __init__(self, n: int, slices: int = SLICES) -> None:
        self.n = n
        self.slice_size = max(1, -(-n // slices))
        self.slices: list[dict[str, Any]] = []
        self._reset()
        self.done = 0

    def _reset(self) -> None:
        self.cur_events = 0
        self.cur_seconds = 0.0
        self.cur_extra: dict[str, float] = {}

    def add(self, events: int, seconds: float, **extra: float) -> None:
        self.cur_events += events
        self.cur_seconds += seconds
        for key, value in extra.items():
            self.cur_extra[key] = self.cur_extra.get(key, 0.0) + value
        self.done += events
        if self.cur_events >= self.slice_size or self.done >= self.n:
            self._close()

    def _close(self) -> None:
        if not self.cur_events:
            return
        row: dict[str, Any] = {
            "upto": self.done,
            "events": self.cur_events,
            "seconds": round(self.cur_seconds, 4),
            "events_per_s": round(self.cur_events / self.cur_seconds, 1)
            if self.cur_seconds
            else None,
            "rss_kb": rss_now_kb(),
        }
        for key, value in self.cur_extra.items():
            row[f"{key}_seconds"] = round(value, 4)
        self.slices.append(row)
        self._reset()


def flatness(slices: list[dict[str, Any]]) -> float | None:
    """Rate of the last slice over the rate of the first (1.0 = perfectly flat)."""
    rates = [s["events_per_s"] for s in slices if s.get("events_per_s")]
    if len(rates) < 2:
        return None
    return round(rates[-1] / rates[0], 3)


# -- timing wrappers (phase breakdown of Ledger.append, without touching the library) ---------


class PhaseTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, obj: Any, attr: str, label: str) -> None:
        original = getattr(obj, attr, None)
        if original is None or not callable(original):
            return
        perf = time.perf_counter

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = perf()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + perf() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(obj, attr, wrapper)

    def report(self) -> dict[str, Any]:
        return {
            label: {"seconds": round(sec, 3), "calls": self.calls[label]}
            for label, sec in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }


def profile_text(profiler: cProfile.Profile, limit: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write("=== sorted by cumulative time ===\n")
    stats.sort_stats("cumulative").print_stats(limit)
    out.write("\n=== sorted by own (total) time ===\n")
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def profile_top(profiler: cProfile.Profile, limit: int = 10, key: str = "cumulative") -> list[Any]:
    stats = pstats.Stats(profiler)
    stats.sort_stats(key)
    rows = []
    for func in stats.fcn_list[: limit * 3]:  # type: ignore[attr-defined]
        _cc, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        short = f"{Path(filename).parent.name}/{Path(filename).name}:{line}({name})"
        rows.append(
            {"function": short, "calls": nc, "tottime": round(tt, 3), "cumtime": round(ct, 3)}
        )
    return rows[:limit]


# -- the signed ledger: build a world, then append N pre-signed entries ------------------------


def make_signed_world(store: Store, clock: BenchClock) -> Any:
    from ledger.config import LedgerConfig
    from tests.support.world import make_world

    config = LedgerConfig(home=store.home, database_url=store.database_url)
    world = make_world(config, clock)
    for action_id, lead in actions():
        world.add_action(action_id, lead)
    save_world_keys(world, store.home)
    return world


#: Where a cached ledger keeps its simulated users' private keys (benchmark data only: a
#: real ledger holds no user's key), so a benchmark can append to a copy of it later.
BENCH_KEYS = "bench-keys"


def save_world_keys(world: Any, home: Path) -> None:
    for user, key in world.keys.items():
        key.write(home / BENCH_KEYS / f"{user}.key")


def load_world_keys(home: Path) -> dict[str, Any]:
    """user id -> KeyPair of a cached ledger's simulated users ({} for a cache built
    before the keys were kept: rebuild it with `bench/verify.py --clean-cache`)."""
    from ledger.keys import KeyPair

    folder = home / BENCH_KEYS
    if not folder.is_dir():
        return {}
    return {path.stem: KeyPair.read(path) for path in sorted(folder.glob("*.key"))}


def run_signed(
    store: Store,
    n: int,
    batch: int,
    seed: int,
    *,
    checkpoint: bool = False,
    profiler: cProfile.Profile | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Append n pre-signed entries (batch per append) to a fresh ledger in `store`."""
    from domain import Action, action_aggregate_id

    clock = BenchClock()
    setup_start = time.perf_counter()
    world = make_signed_world(store, clock)
    ledger = world.ledger
    setup_seconds = time.perf_counter() - setup_start
    setup_entries = ledger.tree_size()

    timer = PhaseTimer()
    timer.wrap(ledger, "_integrate", "integrate (Merkle: read back + hash + store nodes)")
    timer.wrap(ledger, "_check_all", "check_all (parse, rules, signatures to workers)")
    timer.wrap(ledger, "_require_signatures", "  of which waiting for signature verdicts")
    timer.wrap(ledger.app, "record", "app.record (mapper + insert, one transaction)")
    timer.wrap(ledger.app.mapper, "to_stored_event", "  of which mapper.to_stored_event")
    timer.wrap(ledger.tables, "store_integration", "  integrate: store leaves+nodes")
    timer.wrap(ledger.app.recorder, "select_notifications", "  integrate: select_notifications")
    timer.wrap(ledger.tables, "tree_state", "tree_state query")

    signers = {user: world.signer(user) for user in world.keys}
    ids = [action_aggregate_id(action_id) for action_id, _ in actions()]
    versions = [1] * len(ids)
    types = {"comment": Action.CommentAdded.TYPE, "rating": Action.RagRated.TYPE}
    workload = Workload(seed)
    slices = SliceRecorder(n)
    sign_seconds = 0.0
    append_seconds = 0.0
    append_cpu = 0.0
    perf = time.perf_counter
    cpu = time.process_time
    rss_before = rss_now_kb()
    for items in workload.batches(n, batch):
        start = perf()
        entries = []
        for item in items:
            version = versions[item.action] + 1
            versions[item.action] = version
            entries.append(
                signers[item.user].sign(types[item.kind], ids[item.action], version, item.payload)
            )
        signed_at = perf()
        cpu_at = cpu()
        if profiler is not None:
            profiler.enable()
        ledger.append(entries)
        if profiler is not None:
            profiler.disable()
        appended_at = perf()
        append_cpu += cpu() - cpu_at
        sign_seconds += signed_at - start
        append_seconds += appended_at - signed_at
        slices.add(len(items), appended_at - signed_at, sign=signed_at - start)
        if progress is not None:
            progress(slices.done)
    tree_size = ledger.tree_size()
    from ledger.sigpool import close_shared_pool

    close_shared_pool()  # reap the signature workers, so RUSAGE_CHILDREN counts them
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = children.ru_utime + children.ru_stime
    result: dict[str, Any] = {
        "mode": "signed",
        "backend": store.backend,
        "n": n,
        "batch": batch,
        "setup_entries": setup_entries,
        "setup_seconds": round(setup_seconds, 3),
        "tree_size": tree_size,
        "append_seconds": round(append_seconds, 3),
        "append_events_per_s": round(n / append_seconds, 1),
        "append_main_cpu_seconds": round(append_cpu, 3),
        "signature_workers_cpu_seconds": round(workers_cpu, 3),
        "cpu_us_per_event": round(1e6 * (append_cpu + workers_cpu) / n, 1),
        "sign_seconds": round(sign_seconds, 3),
        "sign_per_s": round(n / sign_seconds, 1),
        "end_to_end_events_per_s": round(n / (sign_seconds + append_seconds), 1),
        "slices": slices.slices,
        "flatness_last_over_first": flatness(slices.slices),
        "phases": timer.report(),
        "rss_before_kb": rss_before,
    }
    if checkpoint:
        stored = world.checkpoint()
        result["checkpoint_size"] = stored.tree_size
    ledger.close()
    result["sizes"] = store.sizes(store.home / "ledger.sqlite3")
    result["peak_rss_kb"] = peak_rss_kb()
    return result


# -- subprocess plumbing --------------------------------------------------------------------


def run_child(args: list[str]) -> dict[str, Any]:
    """Run `python <args>` in a fresh process; its last stdout line is a JSON result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [sys.executable, *args]
    # stderr is inherited, so a child's progress lines show live in the parent's log
    proc = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"child failed ({proc.returncode}): {' '.join(args)}\n"
            f"--- stdout ---\n{proc.stdout[-2000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def write_results(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    md_path = RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown)
    return json_path, md_path


def facts_markdown(facts: dict[str, Any]) -> str:
    pk = facts["packages"]
    return (
        f"- Command: `{facts['command']}` (from `{facts['cwd']}`)\n"
        f"- Date (UTC): {facts['date']}\n"
        f"- Machine: {facts['nproc']} cores ({facts['cpu_model']}), "
        f"{facts['mem_total_gb']} GB RAM, {facts['platform']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in facts['loadavg_at_start'])}\n"
        f"- Python {facts['python']}; SQLite {facts['sqlite_library']}; "
        f"PostgreSQL server {facts['postgres_server']}\n"
        f"- Packages: eventsourcing {pk['eventsourcing']}, cryptography {pk['cryptography']}, "
        f"psycopg {pk['psycopg']} (binary {pk['psycopg-binary']}), "
        f"psycopg-pool {pk['psycopg-pool']}\n"
    )


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_mb(num_bytes: float | None) -> str:
    return "-" if num_bytes is None else f"{num_bytes / 1e6:,.1f}"


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def text_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- does Ed25519 verification run in parallel on threads? ------------------------------------


def gil_probe(count: int = 4000) -> dict[str, Any]:
    """Ed25519 verifications per second: one thread; two threads while the caller waits;
    two threads while the caller runs Python (as Ledger.append does while it checks
    rules); two worker processes (ledger/sigpool.py) beside the same busy caller. And the
    switch-interval test: with a 1 s interval, a thread whose call releases the GIL
    completes only a handful of calls beside a spinning thread (it waits a whole
    interval to take the GIL back), one that holds it about half its solo count."""
    import threading

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.sigpool import SignatureBatch, SignaturePool

    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    raw = public.public_bytes_raw()
    messages = [b"m" * 300 + str(i).encode() for i in range(count)]
    checks = [(raw, private.sign(m), m) for m in messages]
    perf = time.perf_counter

    def verify(part: list[tuple[bytes, bytes, bytes]]) -> None:
        for _, signature, message in part:
            public.verify(signature, message)

    def spin(until: Callable[[], bool]) -> None:
        while not until():
            pass

    result: dict[str, Any] = {"signatures": count, "loadavg_at_start": os.getloadavg()[0]}
    start = perf()
    verify(checks)
    result["one_thread_per_s"] = round(count / (perf() - start))
    half = count // 2
    for label, busy in (
        ("two_threads_caller_waits_per_s", False),
        ("two_threads_caller_busy_per_s", True),
    ):
        parts = (checks[:half], checks[half:])
        threads = [threading.Thread(target=verify, args=(part,)) for part in parts]
        start = perf()
        for thread in threads:
            thread.start()
        if busy:
            running = threads
            spin(lambda: not any(t.is_alive() for t in running))  # noqa: B023 (used at once)
        for thread in threads:
            thread.join()
        result[label] = round(count / (perf() - start))
    pool = SignaturePool(2)
    try:
        warm = SignatureBatch(pool, chunk=50)
        for check in checks[:100]:
            warm.add(*check)
        warm.failures()
        start = perf()
        batch = SignatureBatch(pool, chunk=100, in_flight=count)
        for check in checks:
            batch.add(*check)
        deadline = start + count / max(1, result["one_thread_per_s"]) / 2
        spin(lambda: perf() > deadline)  # the caller stays busy for the ideal parallel time
        batch.failures()
        result["two_processes_caller_busy_per_s"] = round(count / (perf() - start))
    finally:
        pool.close()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        stop = threading.Event()
        done = [0]

        def background() -> None:
            while not stop.is_set():
                public.verify(checks[0][1], checks[0][2])
                done[0] += 1

        thread = threading.Thread(target=background)
        thread.start()
        end = perf() + 2.0
        spin(lambda: perf() > end)
        stop.set()
        thread.join()
    finally:
        sys.setswitchinterval(old)
    result["beside_spinning_thread_in_2s"] = done[0]
    result["solo_in_2s"] = 2 * result["one_thread_per_s"]
    result["releases_gil"] = done[0] < 0.05 * result["solo_in_2s"]
    return result
