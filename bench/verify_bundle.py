"""Verify an exported bundle with the standalone auditor vs raw Ed25519, same run.

    python bench/verify_bundle.py [--n 100000 1000000] [--backend sqlite]

For each N: the cached signed ledger of bench/verify.py (built by bench/ingest.py if
missing) is exported as a bundle folder (timed), then, each in a fresh process:
  raw    the bundle's entries are read and parsed (untimed), then only the N
         Ed25519PublicKey.verify calls are timed, one core, key objects loaded once
  audit  ledger.auditor.audit(bundle, log_key=...): the whole standalone check (canonical
         form, keys as of each entry, authority, sequences, Merkle root at every
         checkpoint, coverage, evidence manifest), streaming the bundle
Reported: entries/s, audit/raw (goal <= 1.5) and peak RSS of each process (goal: flat in N).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    CACHE,
    facts_markdown,
    machine_facts,
    md_table,
    peak_children_rss_kb,
    peak_rss_kb,
    run_child,
    text_table,
    write_results,
)
from bench.verify import ensure_ledger, load_manifest, open_ledger  # noqa: E402

SEED = 20240102


def child_export(manifest_path: str, out: str) -> dict[str, Any]:
    from ledger.auditor.note import NoteSigner
    from ledger.bundle import export_bundle
    from ledger.keys import KeyPair

    ledger, config, _ = open_ledger(load_manifest(manifest_path))
    size = ledger.integrate()
    latest = ledger.tables.latest_checkpoint()
    if latest is None or latest.tree_size != size:
        ledger.sign_checkpoint(NoteSigner(ledger.origin(), KeyPair.read(config.log_key_path)))
    vkey = config.log_vkey_path.read_text()
    start = time.perf_counter()
    summary = export_bundle(ledger, vkey, Path(out))
    seconds = time.perf_counter() - start
    ledger.close()
    size_bytes = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    return {
        "entries": summary.entries,
        "seconds": round(seconds, 2),
        "entries_per_s": round(summary.entries / seconds, 1),
        "bundle_bytes": size_bytes,
        "log_key": vkey.strip(),
        "peak_rss_kb": peak_rss_kb(),
    }


def child_raw(bundle: str) -> dict[str, Any]:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ledger.auditor.canonical import canonical_bytes, parse_json
    from ledger.auditor.ed25519 import key_id_for

    keys: dict[str, Any] = {}
    verify_s = 0.0
    count = 0
    work: list[tuple[Any, bytes, bytes]] = []

    def flush() -> None:
        nonlocal verify_s, count
        start = time.perf_counter()
        for key, signature, message in work:
            key.verify(signature, message)  # raises on a bad signature: fail loudly
        verify_s += time.perf_counter() - start
        count += len(work)
        work.clear()

    with (Path(bundle) / "entries.jsonl").open("rb") as handle:
        for line in handle:
            entry = parse_json(line.rstrip(b"\n"))
            signature = base64.b64decode(entry.pop("signature"))
            payload = entry["payload"]
            for name in ("public_key", "new_public_key"):
                if isinstance(payload.get(name), str):
                    raw = base64.b64decode(payload[name])
                    keys[key_id_for(raw)] = Ed25519PublicKey.from_public_bytes(raw)
            work.append((keys[entry["key_id"]], signature, canonical_bytes(entry)))
            if len(work) >= 1000:
                flush()
    flush()
    return {
        "entries": count,
        "verify_seconds": round(verify_s, 3),
        "verify_per_s": round(count / verify_s, 1),
        "peak_rss_kb": peak_rss_kb(),
    }


def child_audit(bundle: str, log_key: str) -> dict[str, Any]:
    from ledger.auditor import audit

    start = time.perf_counter()
    report = audit(Path(bundle), log_key=log_key)
    seconds = time.perf_counter() - start
    return {
        "ok": report.ok,
        "problems": [vars(p) for p in report.problems[:5]],
        "entries": report.entries,
        "seconds": round(seconds, 2),
        "entries_per_s": round(report.entries / seconds, 1),
        "peak_rss_kb": peak_rss_kb(),
        "peak_rss_workers_kb": peak_children_rss_kb(),
    }


def markdown(facts: dict[str, Any], runs: list[dict[str, Any]], status: str) -> str:
    headers, rows = summarise(runs)
    return (
        "# Bundle verification: standalone auditor vs raw Ed25519\n"
        f"Status: {status}\n"
        + facts_markdown(facts)
        + "\n`raw` = time inside N `Ed25519PublicKey.verify` calls only (one core); `audit` ="
        " wall time of `ledger.auditor.audit` on the bundle folder (signatures checked by a"
        " process per core while the main process parses). Goals: "
        "audit/raw <= 1.5; peak RSS flat as N grows.\n\n" + md_table(headers, rows)
    )


def summarise(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "N entries",
        "export entries/s",
        "bundle MB",
        "raw verify/s",
        "audit entries/s",
        "raw s",
        "audit s",
        "audit/raw",
        "<=1.5x?",
        "audit peak RSS MB (main / worker)",
        "raw peak RSS MB",
    ]
    rows = []
    for run in runs:
        ratio = run["audit"]["seconds"] / run["raw"]["verify_seconds"]
        rows.append(
            [
                f"{run['audit']['entries']:,}",
                f"{run['export']['entries_per_s']:,.0f}",
                f"{run['export']['bundle_bytes'] / 1e6:,.1f}",
                f"{run['raw']['verify_per_s']:,.0f}",
                f"{run['audit']['entries_per_s']:,.0f}",
                f"{run['raw']['verify_seconds']:.1f}",
                f"{run['audit']['seconds']:.1f}",
                f"{ratio:.2f}",
                "yes" if ratio <= 1.5 else "NO",
                f"{run['audit']['peak_rss_kb'] / 1024:.0f} / "
                f"{run['audit']['peak_rss_workers_kb'] / 1024:.0f}",
                f"{run['raw']['peak_rss_kb'] / 1024:.0f}",
            ]
        )
    return headers, rows


def parent(args: argparse.Namespace) -> None:
    facts = machine_facts()
    name = "verify_bundle_n" + "-".join(str(n) for n in args.n) + "_" + args.backend
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs}
    me = str(Path(__file__).resolve())
    status = "running"
    try:
        for n in args.n:
            print(f"== {args.backend} N={n:,}", flush=True)
            manifest_path, _ = ensure_ledger(args.backend, n, 100, SEED)
            bundle = CACHE / f"bundle-{args.backend}-{n}"
            shutil.rmtree(bundle, ignore_errors=True)
            export = run_child([me, "--child", "export", str(manifest_path), str(bundle)])
            print(f"   export {export['entries_per_s']:>9,.0f} entries/s", flush=True)
            raw = run_child([me, "--child", "raw", str(bundle)])
            print(f"   raw    {raw['verify_per_s']:>9,.0f} verifies/s", flush=True)
            audit = run_child([me, "--child", "audit", str(bundle), export["log_key"]])
            print(
                f"   audit  {audit['entries_per_s']:>9,.0f} entries/s  ok={audit['ok']}  "
                f"ratio {audit['seconds'] / raw['verify_seconds']:.2f}  "
                f"peak {audit['peak_rss_kb'] / 1024:.0f} MB",
                flush=True,
            )
            runs.append({"n": n, "export": export, "raw": raw, "audit": audit})
            shutil.rmtree(bundle, ignore_errors=True)
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
            print(text_table(headers, rows))
        print(f"wrote {json_path} and {md_path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = {"export": child_export, "raw": child_raw, "audit": child_audit}[kind](*rest)
        print(json.dumps(result))
        return
    parent(args)


if __name__ == "__main__":
    main()
