"""As-of benchmark: the indexed as-of projection against a full replay of the log.

    python bench/asof.py --n 10000 100000 1000000 --backend sqlite

For each N and backend, in a fresh process, on a private copy of the cached ledger of N
signed entries (built by bench/ingest.py's workload; bench/verify.py's cache, so the
cache itself is never modified):

* rebuild: `Projector.rebuild` (every entry parsed and applied, rows written in pages);
  entries/s, rows written, bytes added to the database;
* as-of: `status_as_of` at random moments and random log positions spread over the
  whole log (a first call catches up; the timed ones include the catch-up check, the
  indexed query, decoding the snapshots and building the status); p50 / p95 / max;
* replay: `replay_status` (the reference: a full replay through the domain aggregates)
* as occurred: `status_as_of(..., basis=OCCURRED)`, what had happened by the moment as the
  record stands now (domain/backfill.py): a valid-time cut of the whole log, by replay
  at a few random moments, and the same moments through the projection, which must
  give equal answers (a mismatch fails the run).

Writes bench/results/asof_<name>.json and .md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PG_ADMIN_URL,
    Store,
    facts_markdown,
    fmt_mb,
    machine_facts,
    md_table,
    peak_rss_kb,
    run_child,
    text_table,
    write_results,
)
from bench.verify import ensure_ledger

SEED = 20240102
BATCH = 100


# -- a private copy of the cached ledger ----------------------------------------------------


def copy_store(manifest: dict[str, Any], root: Path) -> Store:
    """A copy the benchmark may add tables to: the SQLite folder, or a PostgreSQL
    database made from the cached one as a template."""
    cached = Store.from_json(manifest["store"])
    home = root / "home"
    shutil.copytree(cached.home, home)
    if cached.backend == "sqlite":
        return Store("sqlite", home)
    import psycopg

    name = f"bench_asof_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{cached.pg_name}"')
    return Store("postgres", home, f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}", name)


def database_bytes(store: Store) -> dict[str, Any]:
    """Total bytes, and bytes per table and index (SQLite's dbstat, or PostgreSQL's
    relation sizes), after a WAL checkpoint so the file holds everything."""
    if store.database_url is not None:
        import psycopg

        with psycopg.connect(store.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            rows = conn.execute(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY 2 DESC"
            ).fetchall()
        return {
            "bytes": int(total[0]) if total else 0,
            "objects": {str(r[0]): int(r[1]) for r in rows},
        }
    import sqlite3

    path = store.home / "ledger.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            rows = conn.execute(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # SQLite built without dbstat
            rows = []
    return {"bytes": path.stat().st_size, "objects": {str(n): int(s) for n, s in rows}}


def projection_bytes(sizes: dict[str, Any]) -> int:
    return sum(size for name, size in sizes["objects"].items() if "asof_" in name)


# -- the child: one N, one backend -------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def child(args: argparse.Namespace) -> None:
    from ledger.config import LedgerConfig
    from ledger.service import Ledger
    from projections.asof import OCCURRED, replay_status, status_as_of
    from projections.diff import diff_as_of
    from projections.projector import projector_for
    from projections.store import from_micros
    from projections.timeline import action_timeline, recommendation_timeline

    manifest = json.loads(Path(args.manifest).read_text())
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="asof-bench-") as folder:
        store = copy_store(manifest, Path(folder))
        try:
            before = database_bytes(store)
            config = LedgerConfig(home=store.home, database_url=store.database_url)
            ledger = Ledger(config)
            size = ledger.tree_size()
            projector = projector_for(ledger)

            print(f"    rebuilding the projection over {size:,} entries", file=sys.stderr)
            start = time.perf_counter()
            projector.rebuild(ledger)
            rebuild_seconds = time.perf_counter() - start
            rows = projector.tables.sizes()
            after = database_bytes(store)

            with projector.tables.reading() as cursor:
                cursor.execute("SELECT min(ts) AS lo, max(ts) AS hi FROM asof_changes")
                span = cursor.fetchone()
            lo, hi = int(span["lo"]), int(span["hi"])
            moments = [from_micros(rng.randint(lo, hi)) for _ in range(args.queries)]
            positions = [rng.randint(0, size) for _ in range(args.queries)]
            for moment in moments[:5]:  # warm the page cache and the connections
                status_as_of(ledger, as_of=moment)

            by_time, by_position = [], []
            for moment, position in zip(moments, positions, strict=True):
                start = time.perf_counter()
                status_as_of(ledger, as_of=moment)
                by_time.append(time.perf_counter() - start)
                start = time.perf_counter()
                status_as_of(ledger, position=position)
                by_position.append(time.perf_counter() - start)

            # Timelines of random actions (each about N/149 entries here: in full, and
            # the latest 1,000 as the API serves by default) and of recommendations (75
            # actions each here, so only the latest 1,000), and diffs over windows of 1%
            # of the log's time span.
            action_ids = sorted(row.action_id for row in status_as_of(ledger).actions)
            numbers = sorted({row.recommendation for row in status_as_of(ledger).actions})
            timelines, latest, recommendation_timelines, diffs = [], [], [], []
            decisions = 0
            for _ in range(args.timelines):
                start = time.perf_counter()
                action_timeline(ledger, rng.choice(action_ids))
                timelines.append(time.perf_counter() - start)
                start = time.perf_counter()
                action_timeline(ledger, rng.choice(action_ids), limit=1000)
                latest.append(time.perf_counter() - start)
                start = time.perf_counter()
                recommendation_timeline(ledger, rng.choice(numbers), limit=1000)
                recommendation_timelines.append(time.perf_counter() - start)
                begin = rng.randint(lo, hi - (hi - lo) // 100)
                start = time.perf_counter()
                window = diff_as_of(
                    ledger, from_micros(begin), from_micros(begin + (hi - lo) // 100)
                )
                diffs.append(time.perf_counter() - start)
                decisions += len(window.decisions)

            replays, occurred, mismatches = [], [], 0
            for i, moment in enumerate(moments[: args.replays]):
                print(f"    full replay {i + 1}/{args.replays}", file=sys.stderr, flush=True)
                start = time.perf_counter()
                replayed = replay_status(ledger, as_of=moment)
                replays.append(time.perf_counter() - start)
                mismatches += status_as_of(ledger, as_of=moment) != replayed
                # "What had happened by then" (domain/backfill.py): a valid-time cut of
                # the whole log, by the same replay (issue 14).
                start = time.perf_counter()
                status_as_of(ledger, as_of=moment, basis=OCCURRED)
                occurred.append(time.perf_counter() - start)
            ledger.close()
            result = {
                "backend": store.backend,
                "n": manifest["n"],
                "tree_size": size,
                "rebuild_seconds": round(rebuild_seconds, 2),
                "rebuild_entries_per_s": round(size / rebuild_seconds, 1),
                "rows": rows,
                "database_before": before,
                "database_after": after,
                "projection_bytes": projection_bytes(after),
                "projection_bytes_per_entry": round(projection_bytes(after) / size, 1),
                "asof_by_time": percentiles(by_time),
                "asof_by_position": percentiles(by_position),
                "replay": percentiles(replays),
                "occurred": percentiles(occurred),
                "action_timeline": percentiles(timelines),
                "action_timeline_latest_1000": percentiles(latest),
                "recommendation_timeline": percentiles(recommendation_timelines),
                "diff_1pct_window": percentiles(diffs),
                "diff_1pct_window_mean_decisions": round(decisions / max(1, len(diffs))),
                "replay_mismatches": mismatches,
                "peak_rss_kb": peak_rss_kb(),
            }
        finally:
            store.destroy()
    if mismatches:
        print(f"    {mismatches} as-of answers differ from the replay!", file=sys.stderr)
    print(json.dumps(result))
    if mismatches:
        sys.exit(1)


# -- the parent --------------------------------------------------------------------------------


def summary_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "backend",
        "entries",
        "as-of time p50/p95 ms",
        "as-of position p50/p95 ms",
        "full replay p50 ms",
        "as occurred p50 ms",
        "speed-up (p50)",
        "rebuild s",
        "rebuild entries/s",
        "projection MB",
        "% of the log's db",
        "bytes/entry",
        "snapshots/changes",
    ]
    rows = []
    for r in runs:
        t, p, rp = r["asof_by_time"], r["asof_by_position"], r["replay"]
        rows.append(
            [
                r["backend"],
                f"{r['tree_size']:,}",
                f"{t['p50_ms']:.1f} / {t['p95_ms']:.1f}",
                f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f}",
                f"{rp['p50_ms']:,.0f}",
                f"{r['occurred']['p50_ms']:,.0f}" if "occurred" in r else "—",
                f"{rp['p50_ms'] / t['p50_ms']:,.0f}x",
                f"{r['rebuild_seconds']:,.1f}",
                f"{r['rebuild_entries_per_s']:,.0f}",
                fmt_mb(r["projection_bytes"]),
                f"{100 * r['projection_bytes'] / r['database_before']['bytes']:.0f}%",
                f"{r['projection_bytes_per_entry']:.0f}",
                f"{r['rows']['snapshots']:,} / {r['rows']['changes']:,}",
            ]
        )
    return headers, rows


def markdown(facts: dict[str, Any], runs: list[dict[str, Any]], status: str) -> str:
    headers, rows = summary_rows(runs)
    out = [
        "# As-of queries: indexed projection vs full replay\n\n",
        f"Status: {status}. Goal: as-of over a 1,000,000-entry log in <= 100 ms.\n\n",
        facts_markdown(facts),
        "\n",
        md_table(headers, rows),
        "\n\nAs-of latency is `status_as_of` end to end (catch-up check, one indexed query, ",
        "decoding the snapshots, building the status of every action, recommendation and ",
        "agency) at random moments / positions over the whole log; the full replay is ",
        "`replay_status` at the first few of the same moments, and both answers were ",
        "compared (mismatches: ",
        ", ".join(str(r["replay_mismatches"]) for r in runs) or "-",
        "). Projection bytes: the `asof_*` tables and their indexes (SQLite dbstat / ",
        "PostgreSQL relation sizes) after the rebuild.\n\n",
        md_table(
            [
                "backend",
                "entries",
                "action timeline, all entries p50/p95 ms",
                "action timeline, latest 1,000 p50/p95 ms",
                "recommendation timeline, latest 1,000 p50/p95 ms",
                "diff over 1% of the span p50/p95 ms (decisions)",
            ],
            [
                [
                    r["backend"],
                    f"{r['tree_size']:,}",
                    _p50_p95(r.get("action_timeline")),
                    _p50_p95(r.get("action_timeline_latest_1000")),
                    _p50_p95(r.get("recommendation_timeline")),
                    f"{_p50_p95(r.get('diff_1pct_window'))} "
                    f"({r.get('diff_1pct_window_mean_decisions', '-')})",
                ]
                for r in runs
            ],
        ),
        "\n\nThe workload spreads N entries over 149 actions under two recommendations, so ",
        "an action's full timeline holds about N/149 entries; the API serves the latest 1,000 ",
        "by default. A diff compares two as-of statuses and lists every decision between.\n",
    ]
    return "".join(out)


def _p50_p95(found: dict[str, Any] | None) -> str:
    return "-" if not found else f"{found['p50_ms']:,.1f} / {found['p95_ms']:,.1f}"


def parent(args: argparse.Namespace) -> None:
    facts = machine_facts()
    name = args.name or ("asof_n" + "-".join(str(n) for n in args.n) + "_" + "-".join(args.backend))
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs}
    me = str(Path(__file__).resolve())
    status = "running"
    try:
        for n in args.n:
            for backend in args.backend:
                print(f"== {backend} N={n:,}", flush=True)
                manifest_path, _ = ensure_ledger(backend, n, BATCH, SEED)
                result = run_child(
                    [
                        me,
                        "--child",
                        "--manifest",
                        str(manifest_path),
                        "--queries",
                        str(args.queries),
                        "--replays",
                        str(args.replays),
                        "--timelines",
                        str(args.timelines),
                        "--seed",
                        str(args.seed),
                    ]
                )
                t, rp = result["asof_by_time"], result["replay"]
                print(
                    f"   as-of p50 {t['p50_ms']:.1f} ms p95 {t['p95_ms']:.1f} ms; "
                    f"replay p50 {rp['p50_ms']:,.0f} ms; rebuild {result['rebuild_seconds']} s; "
                    f"projection {fmt_mb(result['projection_bytes'])} MB",
                    flush=True,
                )
                runs.append(result)
                write_results(name, payload, markdown(facts, runs, "partial (running)"))
        status = "complete"
    except BaseException as error:
        status = f"stopped early: {type(error).__name__}: {error}"
        raise
    finally:
        payload["status"] = status
        facts["loadavg_at_end"] = list(os.getloadavg())
        json_path, md_path = write_results(name, payload, markdown(facts, runs, status))
        headers, rows = summary_rows(runs)
        if rows:
            print()
            print(text_table(headers, rows))
        print(f"\nwrote {json_path} and {md_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--queries", type=int, default=200, help="as-of queries of each kind")
    parser.add_argument("--replays", type=int, default=3, help="full replays to time")
    parser.add_argument(
        "--timelines", type=int, default=10, help="timelines and diffs of each kind to time"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--name", help="results file stem (default from --n and --backend)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
