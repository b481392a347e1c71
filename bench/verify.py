"""Verification benchmark: verify_ledger() against raw Ed25519 verification.

    python bench/verify.py --n 10000 100000 1000000 --backend sqlite postgres

For each N and backend: build (or reuse from the cache, keyed by backend and N) a
ledger of N signed entries with a checkpoint, then, each in a fresh process so that
its peak RSS is its own:

* raw:   stream every stored entry, parse it (untimed), and time only N Ed25519
         verifications of the same messages with `cryptography` on one core, public
         key objects loaded once per key (the floor for any verifier);
* W=1:   verify_ledger(ledger, vkey, workers=1) -- everything in one process;
* W=2:   verify_ledger(ledger, vkey, workers=2) -- signatures on a process pool.

Reports entries/s, full-verify time over raw-verify time (goal: <= 1.5x) and peak RSS
per N (goal: flat as N grows). The cache lives in $INQUIRY_LEDGER_BENCH_CACHE
(default /tmp/inquiry-ledger-bench-cache); `--clean-cache` drops its PostgreSQL
databases and deletes it. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CACHE,
    RESULTS,
    Store,
    drop_pg_database,
    facts_markdown,
    fmt_mb,
    fmt_rate,
    gil_probe,
    machine_facts,
    md_table,
    peak_children_rss_kb,
    peak_rss_kb,
    profile_text,
    profile_top,
    rss_now_kb,
    run_child,
    text_table,
    write_results,
)

SEED = 20240102
INGEST = str(Path(__file__).resolve().parent / "ingest.py")
SAMPLE_FROM_BYTES = 20_000  # entries timed with the ledger's own verify_signature too


def open_ledger(manifest: dict[str, Any]) -> tuple[Any, Any, Store]:
    from ledger.config import LedgerConfig
    from ledger.service import Ledger

    store = Store.from_json(manifest["store"])
    config = LedgerConfig(home=store.home, database_url=store.database_url)
    return Ledger(config), config, store


def load_manifest(path: str) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text()))


# -- children -----------------------------------------------------------------------------


def child_raw(manifest: dict[str, Any]) -> dict[str, Any]:
    """Make sure a checkpoint covers the log, then time raw Ed25519 verification."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ledger.auditor.ed25519 import decode_public_key, key_id_for, verify_signature
    from ledger.auditor.entry import SignedEntry
    from ledger.auditor.note import NoteSigner
    from ledger.keys import KeyPair

    ledger, config, _ = open_ledger(manifest)
    tree_size = ledger.tree_size()
    latest = ledger.latest_checkpoint()
    signed_checkpoint = False
    if latest is None or latest.tree_size != tree_size:
        ledger.sign_checkpoint(NoteSigner(ledger.origin(), KeyPair.read(config.log_key_path)))
        signed_checkpoint = True

    keys: dict[str, Any] = {}
    raw_keys: dict[str, bytes] = {}
    perf = time.perf_counter
    read_s = parse_s = verify_s = sample_s = verify_cpu = 0.0
    count = sample = 0
    failures = 0
    rss_before = rss_now_kb()
    start: int | None = None
    while True:
        t0 = perf()
        page = ledger.app.recorder.select_notifications(start=start, limit=1000)
        t1 = perf()
        read_s += t1 - t0
        if not page:
            break
        start = page[-1].id + 1
        work = []
        for notification in page:
            entry = SignedEntry.from_entry_bytes(bytes(notification.state))
            body = entry.body
            public = body.payload.get("public_key")
            if isinstance(public, str):  # genesis / user registration / key rotation
                raw = decode_public_key(public)
                keys[key_id_for(raw)] = Ed25519PublicKey.from_public_bytes(raw)
                raw_keys[key_id_for(raw)] = raw
            work.append((keys[body.key_id], entry.signature, body.signing_bytes(), body.key_id))
        t2 = perf()
        parse_s += t2 - t1
        c2 = time.process_time()
        for key, signature, message, _ in work:
            key.verify(signature, message)  # raises InvalidSignature: a bad log fails loudly
        verify_cpu += time.process_time() - c2
        t3 = perf()
        verify_s += t3 - t2
        count += len(work)
        if sample < SAMPLE_FROM_BYTES:
            part = work[: SAMPLE_FROM_BYTES - sample]
            t4 = perf()
            for _, signature, message, key_id in part:
                if not verify_signature(raw_keys[key_id], signature, message):
                    failures += 1
            sample_s += perf() - t4
            sample += len(part)
    ledger.close()
    return {
        "gil_probe": gil_probe(),
        "mode": "raw",
        "entries": count,
        "tree_size": tree_size,
        "signed_checkpoint_now": signed_checkpoint,
        "verify_seconds": round(verify_s, 3),
        "verify_cpu_seconds": round(verify_cpu, 3),
        "verify_per_s": round(count / verify_s, 1),
        "read_seconds": round(read_s, 3),
        "parse_and_signing_bytes_seconds": round(parse_s, 3),
        "ledger_verify_signature_sample": sample,
        "ledger_verify_signature_per_s": round(sample / sample_s, 1) if sample_s else None,
        "sample_failures": failures,
        "rss_before_kb": rss_before,
        "peak_rss_kb": peak_rss_kb(),
    }


def child_verify(manifest: dict[str, Any], workers: int, profile_out: str | None) -> dict[str, Any]:
    from ledger.auditor.note import VerifierKey
    from ledger.sigpool import close_shared_pool
    from ledger.verify import verify_ledger

    ledger, config, _ = open_ledger(manifest)
    vkey = VerifierKey.parse(config.log_vkey_path.read_text())
    rss_before = rss_now_kb()
    profiler = cProfile.Profile() if profile_out else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    cpu_start = time.process_time()
    report = verify_ledger(ledger, vkey, workers=workers)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    main_cpu = time.process_time() - cpu_start
    ledger.close()
    close_shared_pool()  # reap the signature workers, so RUSAGE_CHILDREN counts them
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = {
        "mode": f"verify_ledger W={workers}",
        "workers": workers,
        "ok": report.ok,
        "problems": [str(p) for p in report.problems[:5]],
        "entries": report.entries,
        "signatures_verified": report.signatures_verified,
        "rules_checked": report.rules_checked,
        "checkpoints_verified": report.checkpoints_verified,
        "latest_checkpoint_size": report.latest_checkpoint_size,
        "uncovered_entries": report.uncovered_entries,
        "seconds": round(seconds, 3),
        "entries_per_s": round(report.entries / seconds, 1),
        "rss_before_kb": rss_before,
        "peak_rss_kb": peak_rss_kb(),
        "peak_rss_workers_kb": peak_children_rss_kb(),
        "main_cpu_seconds": round(main_cpu, 3),
        "workers_cpu_seconds": round(children.ru_utime + children.ru_stime, 3),
    }
    if profiler is not None:
        Path(profile_out).write_text(profile_text(profiler))  # type: ignore[arg-type]
        result["profile_top_cumulative"] = profile_top(profiler, 15, "cumulative")
        result["profile_top_tottime"] = profile_top(profiler, 15, "tottime")
    return result


# -- the cache -----------------------------------------------------------------------------


def ensure_ledger(backend: str, n: int, batch: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The cached ledger of N signed entries on `backend`, built now if missing."""
    folder = CACHE / f"{backend}-{n}"
    manifest_path = folder / "manifest.json"
    built = None
    if not manifest_path.exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"   building {backend} N={n:,} into {folder}", flush=True)
        start = time.perf_counter()
        result = run_child(
            [
                INGEST,
                "--child",
                "signed",
                "--n",
                str(n),
                "--backend",
                backend,
                "--batch",
                str(batch),
                "--seed",
                str(seed),
                "--keep-dir",
                str(folder),
            ]
        )
        built = {
            "seconds": round(time.perf_counter() - start, 1),
            "append_events_per_s": result["append_events_per_s"],
        }
    else:
        print(f"   reusing {folder}", flush=True)
    manifest = load_manifest(str(manifest_path))
    manifest["built_now"] = built
    return manifest_path, manifest


def clean_cache() -> None:
    for manifest_path in sorted(CACHE.glob("*/manifest.json")):
        manifest = load_manifest(str(manifest_path))
        name = manifest["store"].get("pg_name")
        if name:
            drop_pg_database(name)
            print(f"dropped database {name}")
    shutil.rmtree(CACHE, ignore_errors=True)
    print(f"removed {CACHE}")


# -- the parent ----------------------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "backend",
        "N",
        "entries",
        "raw verify/s (1 core)",
        "W=1 entries/s",
        "W=2 entries/s",
        "raw s",
        "W=1 s",
        "W=2 s",
        "W=1/raw",
        "W=2/raw",
        "<=1.5x?",
        "W=1 peak RSS MB",
        "W=2 peak RSS MB (main / worker)",
        "raw peak RSS MB",
        "DB MB",
    ]
    rows = []
    for run in runs:
        raw, w1, w2 = run["raw"], run["w1"], run["w2"]
        r1 = w1["seconds"] / raw["verify_seconds"]
        r2 = w2["seconds"] / raw["verify_seconds"]
        goal = "yes" if min(r1, r2) <= 1.5 else "NO"
        if (r1 <= 1.5) != (r2 <= 1.5):
            goal = f"W={1 if r1 <= 1.5 else 2} only"
        rows.append(
            [
                run["backend"],
                f"{run['n']:,}",
                f"{w1['entries']:,}",
                fmt_rate(raw["verify_per_s"]),
                fmt_rate(w1["entries_per_s"]),
                fmt_rate(w2["entries_per_s"]),
                f"{raw['verify_seconds']:.1f}",
                f"{w1['seconds']:.1f}",
                f"{w2['seconds']:.1f}",
                f"{r1:.2f}",
                f"{r2:.2f}",
                goal,
                f"{w1['peak_rss_kb'] / 1024:.0f}",
                f"{w2['peak_rss_kb'] / 1024:.0f} / {w2['peak_rss_workers_kb'] / 1024:.0f}",
                f"{raw['peak_rss_kb'] / 1024:.0f}",
                fmt_mb(run.get("db_bytes")),
            ]
        )
    return headers, rows


def markdown(facts: dict[str, Any], runs: list[dict[str, Any]], status: str) -> str:
    headers, rows = summarise(runs)
    out = [
        "# Verification benchmark: verify_ledger vs raw Ed25519\n",
        f"Status: {status}\n",
        facts_markdown(facts),
        "\n`raw` = time inside N `Ed25519PublicKey.verify` calls only (one core, key objects "
        "loaded once); `W=k` = wall time of `verify_ledger(ledger, vkey, workers=k)`, each in "
        "a fresh process (peak RSS = `ru_maxrss` of that process; for W=2 also the largest "
        "pool worker). Goals: full/raw <= 1.5; peak RSS flat as N grows.\n\n",
        md_table(headers, rows),
        "\nOther figures per run (seconds): reading all rows, parsing + re-canonicalising "
        "them (raw child), and the ledger's own `verify_signature` (decodes the key each "
        "call) on a sample:\n\n",
    ]
    extra = []
    for run in runs:
        raw = run["raw"]
        extra.append(
            [
                run["backend"],
                f"{run['n']:,}",
                f"{raw['read_seconds']:.1f}",
                f"{raw['parse_and_signing_bytes_seconds']:.1f}",
                fmt_rate(raw["ledger_verify_signature_per_s"]),
                "yes" if run["w1"]["ok"] and run["w2"]["ok"] else "NO",
                (run.get("built_now") or {}).get("seconds", "cached"),
            ]
        )
    out.append(
        md_table(
            [
                "backend",
                "N",
                "read s",
                "parse s",
                "ledger verify_signature/s",
                "report ok",
                "build s",
            ],
            extra,
        )
    )
    cpu_rows = []
    for run in runs:
        raw_cpu = run["raw"].get("verify_cpu_seconds")
        w2 = run["w2"]
        if raw_cpu and "main_cpu_seconds" in w2:
            main, workers = w2["main_cpu_seconds"], w2["workers_cpu_seconds"]
            cpu_rows.append(
                [
                    run["backend"],
                    f"{run['n']:,}",
                    f"{raw_cpu:.1f}",
                    f"{run['w1'].get('main_cpu_seconds', 0):.1f}",
                    f"{main:.1f}",
                    f"{workers:.1f}",
                    f"{(main + workers) / raw_cpu:.2f}",
                    f"{max(main, (main + workers) / 2) / raw_cpu:.2f}",
                ]
            )
    if cpu_rows:
        out.append(
            "\nCPU seconds (load-independent): raw = CPU inside the N verify calls; W=2 "
            "main process and its signature workers. 'idle 2-core bound' = max(main, "
            "(main + workers) / 2) / raw: the W=2/raw ratio two free cores would give.\n\n"
        )
        out.append(
            md_table(
                [
                    "backend",
                    "N",
                    "raw CPU s",
                    "W=1 CPU s",
                    "W=2 main CPU s",
                    "W=2 workers CPU s",
                    "W=2 total CPU / raw",
                    "idle 2-core bound",
                ],
                cpu_rows,
            )
        )
    out.append(
        "\nDoes `Ed25519PublicKey.verify` run in parallel on threads? (raw child, "
        "`bench/common.py:gil_probe`; verifications per second; 'releases GIL' = with a "
        "1 s switch interval a verifying thread beside a spinning one completes < 5% of "
        "its solo count)\n\n"
    )
    probe_rows = []
    for run in runs:
        probe = run["raw"].get("gil_probe")
        if probe:
            probe_rows.append(
                [
                    run["backend"],
                    f"{run['n']:,}",
                    fmt_rate(probe["one_thread_per_s"]),
                    fmt_rate(probe["two_threads_caller_waits_per_s"]),
                    fmt_rate(probe["two_threads_caller_busy_per_s"]),
                    fmt_rate(probe["two_processes_caller_busy_per_s"]),
                    f"{probe['beside_spinning_thread_in_2s']} of {probe['solo_in_2s']:,}",
                    "yes" if probe["releases_gil"] else "no",
                    f"{probe['loadavg_at_start']:.2f}",
                ]
            )
    out.append(
        md_table(
            [
                "backend",
                "N",
                "1 thread",
                "2 threads, caller waits",
                "2 threads, caller busy",
                "2 processes, caller busy",
                "switch-interval test",
                "releases GIL",
                "load",
            ],
            probe_rows,
        )
    )
    return "".join(out)


def parent(args: argparse.Namespace) -> None:
    facts = machine_facts()
    name = args.name or (
        "verify_n" + "-".join(str(n) for n in args.n) + "_" + "-".join(args.backend)
    )
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs}
    me = str(Path(__file__).resolve())
    status = "running"
    try:
        for n in args.n:
            for backend in args.backend:
                print(f"== {backend} N={n:,}", flush=True)
                manifest_path, manifest = ensure_ledger(backend, n, args.batch, args.seed)
                base = [me, "--manifest", str(manifest_path)]
                run: dict[str, Any] = {
                    "backend": backend,
                    "n": n,
                    "manifest": manifest,
                    "built_now": manifest.get("built_now"),
                }
                tries: dict[str, list[dict[str, Any]]] = {"raw": [], "w1": [], "w2": []}
                for _ in range(max(1, args.repeat)):  # interleaved: load drifts hit all three
                    raw = run_child([*base, "--child", "raw"])
                    tries["raw"].append(raw)
                    print(
                        f"   raw    {raw['verify_per_s']:>9,.0f} verifies/s  "
                        f"{raw['verify_seconds']:.1f} s  ({raw['entries']:,} entries)  "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    for workers in (1, 2):
                        args_w = ["--child", "verify", "--workers", str(workers)]
                        result = run_child([*base, *args_w])
                        tries[f"w{workers}"].append(result)
                        print(
                            f"   W={workers}    {result['entries_per_s']:>9,.0f} entries/s  "
                            f"{result['seconds']:.1f} s  ok={result['ok']}  "
                            f"peak {result['peak_rss_kb'] / 1024:.0f} MB "
                            f"(workers {result['peak_rss_workers_kb'] / 1024:.0f} MB)  "
                            f"ratio {result['seconds'] / raw['verify_seconds']:.2f}  "
                            f"load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
                        if not result["ok"]:
                            print(f"   PROBLEMS: {result['problems']}", flush=True)
                run["raw"] = min(tries["raw"], key=lambda r: float(r["verify_seconds"]))
                run["raw"]["all_verify_seconds"] = [r["verify_seconds"] for r in tries["raw"]]
                for key in ("w1", "w2"):
                    run[key] = min(tries[key], key=lambda r: float(r["seconds"]))
                    run[key]["all_seconds"] = [r["seconds"] for r in tries[key]]
                    run[key]["ok"] = all(r["ok"] for r in tries[key])
                store = Store.from_json(manifest["store"])
                run["db_bytes"] = store.sizes(store.home / "ledger.sqlite3")["bytes"]
                runs.append(run)
                write_results(name, payload, markdown(facts, runs, "partial (running)"))
        status = "complete"
    except BaseException as error:
        status = f"stopped early: {type(error).__name__}: {error}"
        raise
    finally:
        payload["status"] = status
        facts["loadavg_at_end"] = list(os.getloadavg())
        facts["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        json_path, md_path = write_results(name, payload, markdown(facts, runs, status))
        headers, rows = summarise(runs)
        if rows:
            print()
            print(text_table(headers, rows))
        print(f"\nwrote {json_path} and {md_path}")


def profile(args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    n = args.n[0]
    me = str(Path(__file__).resolve())
    for backend in args.backend:
        manifest_path, _ = ensure_ledger(backend, n, args.batch, args.seed)
        out = RESULTS / f"profile_verify_{backend}_{n}.txt"
        result = run_child(
            [
                me,
                "--manifest",
                str(manifest_path),
                "--child",
                "verify",
                "--workers",
                "1",
                "--profile-out",
                str(out),
            ]
        )
        print(f"== cProfile of verify_ledger(workers=1), {backend}, N={n:,}")
        print(f"   (profiled: {result['entries_per_s']:,.0f} entries/s, ok={result['ok']})")
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
    parser.add_argument("--batch", type=int, default=100, help="entries per append when building")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--name", help="results file stem (default from --n and --backend)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run raw, W=1 and W=2 this many times, interleaved; report the fastest of each",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile verify_ledger(W=1)")
    parser.add_argument("--clean-cache", action="store_true", help="drop the cached ledgers")
    parser.add_argument("--child", choices=["raw", "verify"], help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clean_cache:
        clean_cache()
    elif args.child == "raw":
        print(json.dumps(child_raw(load_manifest(args.manifest))))
    elif args.child == "verify":
        result = child_verify(load_manifest(args.manifest), args.workers, args.profile_out)
        print(json.dumps(result))
    elif args.profile:
        profile(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
