"""Ingest benchmark: plain eventsourcing vs the signed ledger's Ledger.append().

    python bench/ingest.py --n 10000 100000 1000000 --backend sqlite postgres --batch 100

For each N and backend, two fresh processes (so peak RSS belongs to one phase only):

* plain:  an eventsourcing Application with a plain Aggregate over 149 actions; its
          events carry the same fields as the signed events (actor, key_id, a signature
          string of the real length, and the comment/rating payload); default mapper,
          no signing, no Merkle tree; `batch` events per save.
* signed: tests.support.world.make_world + 149 actions, then N entries signed client-side
          (Signer.sign, timed separately) and appended with Ledger.append, `batch`
          per append (Ed25519 check, rules, eventsourcing save, Merkle integration).

Both use the same deterministic workload (bench/common.py:Workload): mostly comments
and RAG ratings, spread uniformly over the actions. Entries are generated lazily per
batch. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CACHE,
    RESULTS,
    SliceRecorder,
    Store,
    Workload,
    actions,
    facts_markdown,
    fake_signature,
    flatness,
    fmt_mb,
    fmt_rate,
    machine_facts,
    md_table,
    peak_rss_kb,
    profile_text,
    profile_top,
    rss_now_kb,
    run_child,
    run_signed,
    text_table,
    write_results,
)

SEED = 20240102


# -- the plain baseline ----------------------------------------------------------------------


def run_plain(store: Store, n: int, batch: int, seed: int) -> dict[str, Any]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    from ledger.config import LedgerConfig

    class PlainAction(Aggregate):
        @event("Created")
        def __init__(self, action_id: str, lead_agency: str) -> None:
            self.action_id = action_id
            self.lead_agency = lead_agency
            self.comment_count = 0
            self.challenge_count = 0
            self.agency_rag: str | None = None
            self.review_rag: str | None = None

        @event("CommentAdded")
        def add_comment(
            self, actor: str, key_id: str, signature: str, kind: str, text: str
        ) -> None:
            if kind == "challenge":
                self.challenge_count += 1
            else:
                self.comment_count += 1

        @event("RagRated")
        def rate(
            self, actor: str, key_id: str, signature: str, scope: str, rating: str, reason: str
        ) -> None:
            if scope == "agency":
                self.agency_rag = rating
            else:
                self.review_rag = rating

    class PlainApp(Application[UUID]):
        name = "PlainBench"

    config = LedgerConfig(home=store.home, database_url=store.database_url)
    env = {
        key: value
        for key, value in config.eventsourcing_env().items()
        if not key.startswith(("AGGREGATE_CACHE", "DEEPCOPY"))
    }
    if store.database_url is None:
        store.home.mkdir(parents=True, exist_ok=True)
    app = PlainApp(env=env)
    aggregates = [PlainAction(action_id, lead) for action_id, lead in actions()]
    app.save(*aggregates)
    key_ids = {}
    workload = Workload(seed)
    slices = SliceRecorder(n)
    perf = time.perf_counter
    cpu = time.process_time
    total = trigger_total = cpu_total = 0.0
    rss_before = rss_now_kb()
    counter = 0
    for items in workload.batches(n, batch):
        prepared = []
        for item in items:
            counter += 1
            key_id = key_ids.get(item.user)
            if key_id is None:
                key_id = hashlib.sha256(item.user.encode()).hexdigest()[:16]
                key_ids[item.user] = key_id
            prepared.append((item, key_id, fake_signature(counter)))
        start = perf()
        cpu_start = cpu()
        touched: dict[int, Any] = {}
        for item, key_id, signature in prepared:
            aggregate = aggregates[item.action]
            if item.kind == "comment":
                aggregate.add_comment(item.user, key_id, signature, **item.payload)
            else:
                aggregate.rate(item.user, key_id, signature, **item.payload)
            touched[item.action] = aggregate
        triggered = perf()
        app.save(*touched.values())
        elapsed = perf() - start
        cpu_total += cpu() - cpu_start
        total += elapsed
        trigger_total += triggered - start
        slices.add(len(items), elapsed, trigger=triggered - start)
        if slices.done % max(1, n // 10) < batch:
            print(f"    plain {store.backend} {slices.done}/{n}", file=sys.stderr, flush=True)
    app.close()
    return {
        "mode": "plain",
        "backend": store.backend,
        "n": n,
        "batch": batch,
        "aggregates": len(aggregates),
        "seconds": round(total, 3),
        "events_per_s": round(n / total, 1),
        "cpu_seconds": round(cpu_total, 3),
        "cpu_us_per_event": round(1e6 * cpu_total / n, 1),
        "trigger_seconds": round(trigger_total, 3),
        "save_seconds": round(total - trigger_total, 3),
        "slices": slices.slices,
        "flatness_last_over_first": flatness(slices.slices),
        "rss_before_kb": rss_before,
        "sizes": store.sizes(store.home / "ledger.sqlite3"),
        "peak_rss_kb": peak_rss_kb(),
    }


# -- children ---------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    backend, n, batch = args.backend[0], args.n[0], args.batch
    keep = Path(args.keep_dir) if args.keep_dir else None
    root = keep if keep is not None else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    store = Store.create(backend, root, args.child)
    profiler = cProfile.Profile() if args.profile_out else None

    def progress(done: int) -> None:
        if done % max(1, n // 10) < batch:
            print(f"    signed {backend} {done}/{n}", file=sys.stderr, flush=True)

    try:
        if args.child == "plain":
            result = run_plain(store, n, batch, args.seed)
        else:
            result = run_signed(
                store,
                n,
                batch,
                args.seed,
                checkpoint=keep is not None,
                profiler=profiler,
                progress=progress,
            )
    except BaseException:
        store.destroy()
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        raise
    if profiler is not None:
        Path(args.profile_out).write_text(profile_text(profiler))
        result["profile_top_cumulative"] = profile_top(profiler, 15, "cumulative")
        result["profile_top_tottime"] = profile_top(profiler, 15, "tottime")
    if keep is not None:
        manifest = {
            "store": store.to_json(),
            "n": n,
            "batch": batch,
            "seed": args.seed,
            "tree_size": result["tree_size"],
            "checkpoint_size": result.get("checkpoint_size"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "built_by": "bench/ingest.py",
        }
        (keep / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        result["kept_for_verify"] = str(keep)
    else:
        store.destroy()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


# -- the parent: run, tabulate, write ------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "backend",
        "N",
        "plain ev/s",
        "signed append ev/s",
        "signed/plain",
        ">=0.5?",
        "sign/s (client)",
        "sign+append ev/s",
        "plain MB",
        "signed MB",
        "plain peak RSS MB",
        "signed peak RSS MB",
        "signed last/first slice",
        "CPU us/ev plain",
        "CPU us/ev signed (main+workers)",
    ]
    rows = []
    for run in runs:
        plain, signed = run["plain"], run["signed"]
        ratio = signed["append_events_per_s"] / plain["events_per_s"]
        rows.append(
            [
                run["backend"],
                f"{run['n']:,}",
                fmt_rate(plain["events_per_s"]),
                fmt_rate(signed["append_events_per_s"]),
                f"{ratio:.2f}",
                "yes" if ratio >= 0.5 else "NO",
                fmt_rate(signed["sign_per_s"]),
                fmt_rate(signed["end_to_end_events_per_s"]),
                fmt_mb(plain["sizes"]["bytes"]),
                fmt_mb(signed["sizes"]["bytes"]),
                f"{plain['peak_rss_kb'] / 1024:.0f}",
                f"{signed['peak_rss_kb'] / 1024:.0f}",
                signed["flatness_last_over_first"],
                plain.get("cpu_us_per_event", "-"),
                signed.get("cpu_us_per_event", "-"),
            ]
        )
    return headers, rows


def cpu_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "backend",
        "N",
        "plain",
        "signed main",
        "signature workers",
        "plain / (main + workers)",
        "idle 2-core bound",
    ]
    rows = []
    for run in runs:
        plain, signed, n = run["plain"], run["signed"], run["n"]
        if "append_main_cpu_seconds" not in signed or "cpu_us_per_event" not in plain:
            continue
        main = 1e6 * signed["append_main_cpu_seconds"] / n
        workers = 1e6 * signed["signature_workers_cpu_seconds"] / n
        base = plain["cpu_us_per_event"]
        rows.append(
            [
                run["backend"],
                f"{n:,}",
                f"{base:.1f}",
                f"{main:.1f}",
                f"{workers:.1f}",
                f"{base / (main + workers):.2f}",
                f"{base / max(main, (main + workers) / 2):.2f}",
            ]
        )
    return headers, rows


def slices_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = ["backend", "N", "phase", *[f"s{i + 1}" for i in range(10)]]
    rows = []
    for run in runs:
        for phase, key in (("plain", "plain"), ("signed append", "signed")):
            rates = [fmt_rate(s["events_per_s"]) for s in run[key]["slices"]]
            rows.append([run["backend"], f"{run['n']:,}", phase, *rates])
        rss = [f"{s['rss_kb'] / 1024:.0f}" for s in run["signed"]["slices"]]
        rows.append([run["backend"], f"{run['n']:,}", "signed RSS MB", *rss])
    return headers, rows


def markdown(facts: dict[str, Any], runs: list[dict[str, Any]], status: str) -> str:
    headers, rows = summarise(runs)
    sh, srows = slices_table(runs)
    out = [
        "# Ingest benchmark: plain eventsourcing vs signed Ledger.append\n",
        f"Status: {status}\n",
        facts_markdown(facts),
        "\nRates are events per second of wall time spent in the save/append call only "
        "(payload generation and client-side signing excluded; signing is reported "
        "separately as sign/s and in sign+append). Goal: signed append >= 0.5 x plain.\n",
        md_table(headers, rows),
        "\n## CPU per event (load-independent)\n\nMicroseconds of CPU per event: plain "
        "process; signed appending process and its signature workers. On a saturated "
        "machine wall time follows CPU, so signed/plain is about plain / (main + workers); "
        "two free cores would allow at most plain / max(main, (main + workers) / 2).\n\n",
        md_table(*cpu_table(runs)),
        "\n## Rate per 10% slice of the run (events/s) and RSS of the signed process\n",
        md_table(sh, srows),
        "\n## Where Ledger.append spends its time (wall seconds, whole run)\n",
    ]
    for run in runs:
        phases = run["signed"]["phases"]
        total = run["signed"]["append_seconds"]
        out.append(f"\n{run['backend']} N={run['n']:,} (append total {total:.1f} s):\n\n")
        prow = [
            [label, f"{v['seconds']:.2f}", f"{100 * v['seconds'] / total:.0f}%", v["calls"]]
            for label, v in phases.items()
        ]
        out.append(md_table(["phase", "seconds", "% of append", "calls"], prow))
    return "".join(out)


def parent(args: argparse.Namespace) -> None:
    facts = machine_facts()
    name = args.name or (
        "ingest_n" + "-".join(str(n) for n in args.n) + "_" + "-".join(args.backend)
    )
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs}
    script = str(Path(__file__).resolve())
    common = ["--batch", str(args.batch), "--seed", str(args.seed)]
    status = "running"
    try:
        for n in args.n:
            for backend in args.backend:
                print(f"== {backend} N={n:,} batch={args.batch}", flush=True)
                base = [script, "--n", str(n), "--backend", backend, *common]
                plains, signeds = [], []
                for _ in range(max(1, args.repeat)):  # interleaved: load drifts hit both
                    plain = run_child([*base, "--child", "plain"])
                    plain["loadavg_at_start"] = os.getloadavg()[0]
                    plains.append(plain)
                    print(
                        f"   plain  {plain['events_per_s']:>10,.0f} ev/s  "
                        f"{plain['seconds']:.1f} s  peak {plain['peak_rss_kb'] / 1024:.0f} MB",
                        flush=True,
                    )
                    extra = []
                    keep = CACHE / f"{backend}-{n}"
                    if args.cache and not (keep / "manifest.json").exists():
                        shutil.rmtree(keep, ignore_errors=True)
                        extra = ["--keep-dir", str(keep)]
                    signed = run_child([*base, "--child", "signed", *extra])
                    signeds.append(signed)
                    print(
                        f"   signed {signed['append_events_per_s']:>10,.0f} ev/s append  "
                        f"{signed['sign_per_s']:,.0f} signs/s  "
                        f"{signed['append_seconds']:.1f} s  "
                        f"peak {signed['peak_rss_kb'] / 1024:.0f} MB  "
                        f"ratio {signed['append_events_per_s'] / plain['events_per_s']:.2f}  "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                plain = max(plains, key=lambda r: float(r["events_per_s"]))
                signed = max(signeds, key=lambda r: float(r["append_events_per_s"]))
                plain["all_events_per_s"] = [r["events_per_s"] for r in plains]
                signed["all_append_events_per_s"] = [r["append_events_per_s"] for r in signeds]
                runs.append({"backend": backend, "n": n, "plain": plain, "signed": signed})
                write_results(name, payload, markdown(facts, runs, "partial (running)"))
        status = "complete"
    except BaseException as error:
        status = f"stopped early: {type(error).__name__}: {error}"
        raise
    finally:
        payload["status"] = status
        facts["loadavg_at_end"] = list(os.getloadavg())
        json_path, md_path = write_results(name, payload, markdown(facts, runs, status))
        headers, rows = summarise(runs)
        if rows:
            print()
            print(text_table(headers, rows))
            sh, srows = slices_table(runs)
            print()
            print(text_table(sh, srows))
        print(f"\nwrote {json_path} and {md_path}")


def profile(args: argparse.Namespace) -> None:
    """cProfile of Ledger.append only (signing excluded), per backend, at the first N."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    n = args.n[0]
    for backend in args.backend:
        out = RESULTS / f"profile_ingest_{backend}_{n}.txt"
        result = run_child(
            [
                str(Path(__file__).resolve()),
                "--n",
                str(n),
                "--backend",
                backend,
                "--batch",
                str(args.batch),
                "--seed",
                str(args.seed),
                "--child",
                "signed",
                "--profile-out",
                str(out),
            ]
        )
        print(f"== cProfile of Ledger.append, {backend}, N={n:,}, batch {args.batch}")
        print(f"   (profiled append rate {result['append_events_per_s']:,.0f} ev/s)")
        rows = [
            [r["function"], r["calls"], f"{r['tottime']:.3f}", f"{r['cumtime']:.3f}"]
            for r in result["profile_top_cumulative"]
        ]
        print(text_table(["function", "calls", "tottime", "cumtime"], rows))
        print(f"   full listing: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument(
        "--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--name", help="results file stem (default from --n and --backend)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run plain and signed this many times, interleaved; report the fastest of each",
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help=f"keep each signed ledger (with a checkpoint) in {CACHE} for bench/verify.py",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile Ledger.append instead")
    parser.add_argument("--child", choices=["plain", "signed"], help=argparse.SUPPRESS)
    parser.add_argument("--keep-dir", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.profile:
        profile(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
