"""Read-cost benchmark (issue 17): evidence download and status export, projection vs replay.

    python bench/read_cost.py --n 10000 100000 1000000 --backend sqlite

For each N and backend, in a fresh process, on a private copy of the cached ledger of N
signed entries (bench/verify.py's cache, built by bench/ingest.py's workload if missing;
the cache is never modified):

* setup (untimed but reported): the as-of projection is built (`Projector.rebuild`),
  then `--blobs` evidence files are stored and attached by the actions' officers (one
  of them by a council action and a police action both), and the projection catches
  up with them;
* download lookup: `projections.evidence.evidence_uses` (what GET /v1/evidence/{sha256}
  asks: the actions naming the blob, with their lead agencies) for random blobs; and
  the whole download through the API (token check, lookup, read policy, streaming the
  verified blob) with FastAPI's TestClient, counting the log entries it reads;
* export: `status_export_as_of` (what GET /v1/export/status builds) now and at random
  moments, and the CSV through the API;
* the references, in the same run: `named_evidence` (the replay the download used to
  run on every request) and `status_export` over `ledger.entries()` (the export's
  replay), `--replays` times (once at 1,000,000 entries: about a minute each); both must
  agree with the projection (a mismatch fails the run).

`--report` also times the progress report on the demo ledger (`inquiry-ledger demo`,
482 entries): gathering, HTML, PDF (WeasyPrint), and the same request again through
`rendered_report`, which keeps rendered reports.

Writes bench/results/<name>.json and .md (default name issue17_read_cost). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.asof import copy_store
from bench.common import (
    BenchClock,
    actions,
    facts_markdown,
    load_world_keys,
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


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def timed(call: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    found = call()
    return time.perf_counter() - start, found


# -- the child: one N, one backend ----------------------------------------------------------


def attach_blobs(
    ledger: Any, keys: dict[str, Any], clock: BenchClock, count: int, start: int = 0
) -> list[str]:
    """Store and attach files start..start+count-1 (2 KB each), spread over the actions
    of both agencies; file 0 is attached by a council and a police action (two uses)."""
    from api.application.commands import Client
    from evidence_store.local import LocalEvidenceStore
    from ledger.signer import Signer
    from tests.support.world import ORIGIN

    store = LocalEvidenceStore(ledger.config.evidence_dir)
    plan = actions()
    uses = [(plan[(i * 37) % len(plan)], i) for i in range(start, start + count)]
    if start == 0:
        uses.append((plan[-1], 0))  # a police action names the first (council) blob too
    hashes: list[str] = []
    for (action_id, lead), i in uses:
        content = f"bench evidence {i}: minutes of the partnership board\n".encode() * 40
        blob = store.put(BytesIO(content))
        officer = Signer(f"{lead}.officer", keys[f"{lead}.officer"], ORIGIN, clock=clock)
        Client(ledger, officer).attach_evidence(
            action_id,
            {
                "sha256": blob.sha256,
                "size": len(content),
                "media_type": "text/plain",
                "original_name": f"minutes-{i}.txt",
                "description": f"Minutes {i}",
                "storage_key": blob.storage_key,
                "effective_date": "2024-01-02",
            },
        )
        if blob.sha256 not in hashes:
            hashes.append(blob.sha256)
    return hashes


def child(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from api.application.evidence import named_evidence
    from api.application.tokens import TokenStore
    from api.http.app import create_app
    from evidence_store.local import LocalEvidenceStore
    from ledger.auditor.entry import SignedEntry
    from ledger.config import LedgerConfig
    from ledger.service import Ledger
    from projections.evidence import evidence_uses
    from projections.projector import projector_for
    from projections.report_sheets import status_export, status_export_as_of
    from projections.store import from_micros

    manifest = json.loads(Path(args.manifest).read_text())
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="read-cost-bench-") as folder:
        store = copy_store(manifest, Path(folder))
        try:
            keys = load_world_keys(store.home)
            if not keys:
                raise SystemExit(
                    f"{manifest['store']['home']} keeps no user keys (built before they "
                    "were kept): run bench/verify.py --clean-cache, then this again"
                )
            config = LedgerConfig(home=store.home, database_url=store.database_url)
            probe = Ledger(config)
            last = probe.tree_size() - 1
            _, data = next(iter(probe.entries(last, 1)))
            probe.close()
            clock = BenchClock(SignedEntry.from_entry_bytes(data).body.timestamp)
            clock.now += timedelta(seconds=1)
            ledger = Ledger(config, clock=clock, evidence=LocalEvidenceStore(config.evidence_dir))
            projector = projector_for(ledger)
            print(f"    building the projection over {ledger.tree_size():,}", file=sys.stderr)
            rebuild_seconds, _ = timed(lambda: projector.rebuild(ledger))
            hashes = attach_blobs(ledger, keys, clock, args.blobs)
            catch_up_seconds, _ = timed(lambda: projector.catch_up(ledger))
            size = ledger.tree_size()

            with projector.tables.reading() as cursor:
                cursor.execute("SELECT min(ts) AS lo, max(ts) AS hi FROM asof_changes")
                span = cursor.fetchone()
            lo, hi = int(span["lo"]), int(span["hi"])
            moments = [from_micros(rng.randint(lo, hi)) for _ in range(args.queries)]

            # The whole download and export through the API, counting what they read.
            reads = {"entries_calls": 0, "leaf_entries": 0}
            entries, leaf_entries = ledger.entries, ledger.leaf_entries

            def counted_entries(*a: Any, **k: Any) -> Any:
                reads["entries_calls"] += 1
                return entries(*a, **k)

            def counted_leaf_entries(*a: Any, **k: Any) -> Any:
                found = leaf_entries(*a, **k)
                reads["leaf_entries"] += len(found)
                return found

            tokens = TokenStore(ledger.tables)
            council = tokens.create("council.officer", timedelta(days=30), now=clock.now)
            police = tokens.create("police.officer", timedelta(days=30), now=clock.now)
            lookups, downloads, exports_now, exports_asof, http_exports = [], [], [], [], []
            with TestClient(create_app(config, ledger)) as http:
                headers = {"Authorization": f"Bearer {council}"}
                for sha in hashes[:3]:  # warm the connections and the page cache
                    evidence_uses(ledger, sha)
                    http.get(f"/v1/evidence/{sha}", headers=headers)
                ledger.entries = counted_entries  # type: ignore[method-assign]
                ledger.leaf_entries = counted_leaf_entries  # type: ignore[method-assign]
                for _ in range(args.queries):
                    sha = rng.choice(hashes)
                    lookups.append(timed(lambda: evidence_uses(ledger, sha))[0])  # noqa: B023
                    seconds, got = timed(
                        lambda: http.get(f"/v1/evidence/{sha}", headers=headers)  # noqa: B023
                    )
                    if got.status_code not in (200, 403):
                        raise RuntimeError(f"download answered {got.status_code}: {got.text}")
                    downloads.append(seconds)
                download_reads = dict(reads)
                for moment in moments[: args.exports]:
                    exports_now.append(timed(lambda: status_export_as_of(ledger, as_of=None))[0])
                    exports_asof.append(
                        timed(lambda: status_export_as_of(ledger, as_of=moment))[0]  # noqa: B023
                    )
                    seconds, got = timed(
                        lambda: http.get(
                            "/v1/export/status", headers={"Authorization": f"Bearer {police}"}
                        )
                    )
                    if got.status_code != 200:
                        raise RuntimeError(f"export answered {got.status_code}: {got.text}")
                    http_exports.append(seconds)
                export_reads = {k: reads[k] - download_reads[k] for k in reads}
                ledger.entries = entries  # type: ignore[method-assign]
                ledger.leaf_entries = leaf_entries  # type: ignore[method-assign]

                # A blob downloaded as soon as it is attached: the catch-up included.
                fresh = []
                for k in range(args.fresh):
                    sha = attach_blobs(ledger, keys, clock, 1, start=args.blobs + k)[0]
                    seconds, got = timed(
                        lambda: http.get(f"/v1/evidence/{sha}", headers=headers)  # noqa: B023
                    )
                    if got.status_code not in (200, 403):
                        raise RuntimeError(f"fresh download answered {got.status_code}")
                    fresh.append(seconds)
                    hashes.append(sha)

            replay_lookups, replay_exports, mismatches = [], [], 0
            for i in range(args.replays):
                print(f"    replays {i + 1}/{args.replays}", file=sys.stderr, flush=True)
                seconds, named = timed(lambda: named_evidence(ledger))
                replay_lookups.append(seconds)
                for sha in hashes:
                    mine = sorted((u.action_id, u.erased) for u in evidence_uses(ledger, sha))
                    mismatches += mine != sorted(named.get(sha, []))
                moment = moments[i]
                seconds, replayed = timed(
                    lambda: status_export(ledger.entries(), as_of=moment)  # noqa: B023
                )
                replay_exports.append(seconds)
                mismatches += status_export_as_of(ledger, as_of=moment) != replayed
            result = {
                "backend": store.backend,
                "n": manifest["n"],
                "tree_size": size,
                "tree_size_at_end": ledger.tree_size(),
                "blobs": len(hashes),
                "rebuild_seconds": round(rebuild_seconds, 2),
                "catch_up_after_attach_seconds": round(catch_up_seconds, 4),
                "lookup": percentiles(lookups),
                "download_http": percentiles(downloads),
                "download_log_reads": download_reads,
                "download_just_attached_http": percentiles(fresh),
                "export_now": percentiles(exports_now),
                "export_as_of": percentiles(exports_asof),
                "export_http_csv": percentiles(http_exports),
                "export_log_reads": export_reads,
                "replay_lookup": percentiles(replay_lookups),
                "replay_export": percentiles(replay_exports),
                "mismatches": mismatches,
                "peak_rss_kb": peak_rss_kb(),
            }
            ledger.close()
        finally:
            store.destroy()
    print(json.dumps(result))
    if mismatches:
        print(f"    {mismatches} answers differ from the replay!", file=sys.stderr)
        sys.exit(1)


# -- the progress report on the demo ledger -----------------------------------------------------


def report_child(args: argparse.Namespace) -> None:
    """Times the progress report on a fresh demo ledger, in this (fresh) process."""
    import contextlib
    import io

    from api.application.demo import END, run_demo
    from api.application.reports import progress_report, rendered_report
    from ledger.config import LedgerConfig
    from ledger.service import Ledger
    from projections.report import build_report
    from projections.report_render import render, render_html, render_pdf

    with tempfile.TemporaryDirectory(prefix="read-cost-report-") as folder:
        config = LedgerConfig(home=Path(folder) / "demo")
        with contextlib.redirect_stdout(io.StringIO()):
            run_demo(config)
        as_of = END
        with Ledger(config) as ledger:
            result: dict[str, Any] = {"entries": ledger.tree_size(), "as_of": as_of.isoformat()}

            def cpu_and_wall(call: Any) -> tuple[dict[str, float], Any]:
                wall, cpu = time.perf_counter(), time.process_time()
                found = call()
                return {
                    "wall_s": round(time.perf_counter() - wall, 3),
                    "cpu_s": round(time.process_time() - cpu, 3),
                }, found

            result["gather"], built = cpu_and_wall(
                lambda: progress_report(ledger, config, as_of=as_of)
            )
            result["decisions"] = len(built.decisions)
            result["html"], html = cpu_and_wall(lambda: render_html(built))
            result["html_bytes"] = len(html)
            result["pdf_first"], pdf = cpu_and_wall(lambda: render_pdf(built))  # with import
            result["pdf_bytes"] = len(pdf)
            result["pdf_again"], _ = cpu_and_wall(lambda: render_pdf(built))
            result["build_report_again"], _ = cpu_and_wall(
                lambda: build_report(ledger, built.checkpoint, as_of=as_of)
            )
            result["rendered_report_first"], first = cpu_and_wall(
                lambda: rendered_report(ledger, config, as_of=as_of, fmt="pdf", render=render)
            )
            result["rendered_report_again"], again = cpu_and_wall(
                lambda: rendered_report(ledger, config, as_of=as_of, fmt="pdf", render=render)
            )
            if first.content != again.content:
                raise RuntimeError("the kept report differs from the rendered one")
    result["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(result))


# -- the parent --------------------------------------------------------------------------------


def _p(found: dict[str, Any]) -> str:
    return f"{found['p50_ms']:,.2f} / {found['p95_ms']:,.2f}"


def summary_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "backend",
        "entries",
        "lookup p50/p95 ms",
        "download (HTTP) p50/p95 ms",
        "replay lookup ms",
        "replay / lookup",
        "export now p50/p95 ms",
        "export as-of p50/p95 ms",
        "export CSV (HTTP) p50/p95 ms",
        "replay export ms",
        "replay / export as-of",
    ]
    rows = []
    for r in runs:
        rows.append(
            [
                r["backend"],
                f"{r['tree_size']:,}",
                _p(r["lookup"]),
                _p(r["download_http"]),
                f"{r['replay_lookup']['p50_ms']:,.0f}",
                f"{r['replay_lookup']['p50_ms'] / r['lookup']['p50_ms']:,.0f}x",
                _p(r["export_now"]),
                _p(r["export_as_of"]),
                _p(r["export_http_csv"]),
                f"{r['replay_export']['p50_ms']:,.0f}",
                f"{r['replay_export']['p50_ms'] / r['export_as_of']['p50_ms']:,.0f}x",
            ]
        )
    return headers, rows


def markdown(
    facts: dict[str, Any], runs: list[dict[str, Any]], report: dict[str, Any] | None, status: str
) -> str:
    headers, rows = summary_rows(runs)
    out = [
        "# Issue 17: read cost of evidence downloads and status exports\n\n",
        f"Status: {status}. Goal: download and export cost independent of the log's length.\n\n",
        facts_markdown(facts),
        f"- Load average at end: {facts.get('loadavg_at_end', '-')}\n\n",
        md_table(headers, rows),
        "\nLookup: `projections.evidence.evidence_uses` (the actions naming a blob, with their ",
        "lead agencies: what the download asks) after catching up. Download: GET ",
        "/v1/evidence/{sha256} end to end through TestClient (token, lookup, read policy, ",
        "streaming a verified 2 KB blob). Export: `status_export_as_of` now and at random ",
        "moments; CSV: GET /v1/export/status as an officer. Replays (the code paths before ",
        "this change, timed in the same run): `named_evidence` and `status_export(ledger.",
        "entries())`, whose answers were compared with the projection's (mismatches: ",
        ", ".join(str(r["mismatches"]) for r in runs) or "-",
        ").\n\n",
        md_table(
            [
                "backend",
                "entries",
                "log entries read by the downloads (entries() calls / by leaf)",
                "by the exports",
                "download right after an attach p50/max ms",
                "projection rebuild s",
                "runs (lookups, exports, replays)",
            ],
            [
                [
                    r["backend"],
                    f"{r['tree_size']:,}",
                    f"{r['download_log_reads']['entries_calls']} / "
                    f"{r['download_log_reads']['leaf_entries']}",
                    f"{r['export_log_reads']['entries_calls']} / "
                    f"{r['export_log_reads']['leaf_entries']}",
                    f"{r['download_just_attached_http']['p50_ms']:,.1f} / "
                    f"{r['download_just_attached_http']['max_ms']:,.1f}",
                    f"{r['rebuild_seconds']:,.1f}",
                    f"{r['lookup']['n']}, {r['export_as_of']['n']}, {r['replay_lookup']['n']}",
                ]
                for r in runs
            ],
        ),
    ]
    if report:
        out += [
            f"\n## Progress report (demo ledger, {report['entries']} entries, as of ",
            f"{report['as_of'][:10]}, {report['decisions']} decisions)\n\n",
            md_table(
                ["step", "wall s", "CPU s"],
                [
                    [name.replace("_", " "), report[name]["wall_s"], report[name]["cpu_s"]]
                    for name in (
                        "gather",
                        "html",
                        "pdf_first",
                        "pdf_again",
                        "build_report_again",
                        "rendered_report_first",
                        "rendered_report_again",
                    )
                ],
            ),
            f"\nHTML {report['html_bytes']:,} bytes, PDF {report['pdf_bytes']:,} bytes. ",
            "pdf first includes importing WeasyPrint. rendered report: what GET /v1/report ",
            "runs (checkpoint, gather, render), then the same request again (kept).\n",
        ]
    return "".join(out)


def parent(args: argparse.Namespace) -> None:
    facts = machine_facts()
    name = args.name
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs, "report": None}
    me = str(Path(__file__).resolve())
    status = "running"
    try:
        if args.report:
            print("== progress report on the demo ledger", flush=True)
            payload["report"] = run_child([me, "--report-child"])
            write_results(name, payload, markdown(facts, runs, payload["report"], "partial"))
        for n in args.n:
            for backend in args.backend:
                print(f"== {backend} N={n:,}", flush=True)
                manifest_path, _ = ensure_ledger(backend, n, BATCH, SEED)
                replays = args.replays if n < 1_000_000 else min(args.replays, 1)
                result = run_child(
                    [
                        me,
                        "--child",
                        "--manifest",
                        str(manifest_path),
                        "--queries",
                        str(args.queries),
                        "--exports",
                        str(args.exports),
                        "--replays",
                        str(replays),
                        "--blobs",
                        str(args.blobs),
                        "--fresh",
                        str(args.fresh),
                        "--seed",
                        str(args.seed),
                    ]
                )
                print(
                    f"   lookup p50 {result['lookup']['p50_ms']:.2f} ms, download "
                    f"{result['download_http']['p50_ms']:.2f} ms, replay "
                    f"{result['replay_lookup']['p50_ms']:,.0f} ms; export as-of "
                    f"{result['export_as_of']['p50_ms']:.2f} ms, replay "
                    f"{result['replay_export']['p50_ms']:,.0f} ms",
                    flush=True,
                )
                runs.append(result)
                write_results(name, payload, markdown(facts, runs, payload["report"], "partial"))
        status = "complete"
    except BaseException as error:
        status = f"stopped early: {type(error).__name__}: {error}"
        raise
    finally:
        payload["status"] = status
        facts["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        json_path, md_path = write_results(
            name, payload, markdown(facts, runs, payload["report"], status)
        )
        headers, rows = summary_rows(runs)
        if rows:
            print()
            print(text_table(headers, rows))
        print(f"\nwrote {json_path} and {md_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="*", default=[10_000])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--queries", type=int, default=200, help="downloads and lookups timed")
    parser.add_argument("--exports", type=int, default=20, help="exports of each kind timed")
    parser.add_argument(
        "--replays", type=int, default=3, help="replays of each kind timed (1 at 1,000,000)"
    )
    parser.add_argument("--blobs", type=int, default=20, help="evidence files attached")
    parser.add_argument("--fresh", type=int, default=5, help="downloads right after an attach")
    parser.add_argument("--report", action="store_true", help="time the report on the demo too")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--name", default="issue17_read_cost", help="results file stem")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.report_child:
        report_child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
