"""Evidence store throughput against raw boto3, on the same Ceph RGW server, in one run.

    python bench/evidence.py [--sizes 1K 1M 100M] [--big 2G] [--endpoint URL]

For each size: upload and download throughput of
  raw      boto3 put_object(Body=bytes, ContentMD5) / get_object().read()
  store    S3EvidenceStore.put(file, expected_sha256=...) / iterating store.read() — the
           path the CLI takes (it hashes the file first, then streams it in parts, hashing
           again, Content-MD5 per part; reads re-hash)
  store+h  the same plus the client's own hashing pass over the file (what a user waits for)
each without and with client-side encryption. Then the peak RSS of a process uploading a
`--big` stream (generated, never held in memory), plain and encrypted.
Goals (issue 3): store >= 80% of raw for files >= 1 MB without encryption, >= 60% with it.

Without --endpoint it starts Ceph RGW on loopback with tools/ceph-s3-up.sh (
bluestore by default: a 10 GiB block file; every object is deleted after it is measured).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    facts_markdown,
    machine_facts,
    md_table,
    text_table,
    write_results,
)
from evidence_store.crypto import FileKeyStore  # noqa: E402
from evidence_store.s3 import S3EvidenceStore, make_client  # noqa: E402

TOOLS = REPO / "tools"
ACCESS, SECRET = "LEDGERACCESSKEY0001", "ledgersecretkey0000000000000000000000001"
UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}
REPS = {1024: 200, 1024**2: 40, 100 * 1024**2: 4}
SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def parse_size(text: str) -> int:
    return int(text[:-1]) * UNITS[text[-1].upper()] if text[-1].upper() in UNITS else int(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Ceph:
    """A one-node Ceph RGW on loopback. bluestore by default: memstore holds 4 GiB, and RGW
    frees a deleted object's data only after its garbage-collection delay (hours), so the
    2 GB plain + 2 GB encrypted uploads fill a memstore OSD and RGW then stops answering."""

    def __init__(self, objectstore: str = "bluestore") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-ceph-")) / "cluster"
        self.port = free_port()
        self.objectstore = objectstore

    def __enter__(self) -> str:
        env = dict(
            os.environ,
            MON_PORT=str(free_port()),
            RGW_PORT=str(self.port),
            OBJECTSTORE=self.objectstore,
        )
        subprocess.run(
            ["bash", str(TOOLS / "ceph-s3-up.sh"), str(self.dir)],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        subprocess.run(
            ["bash", str(TOOLS / "ceph-s3-down.sh"), str(self.dir)],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(self.dir.parent, ignore_errors=True)


def store_for(client: Any, bucket: str, encrypted: bool, keys_dir: Path) -> S3EvidenceStore:
    kek = os.urandom(32) if encrypted else None
    key_store = FileKeyStore(keys_dir) if encrypted else None
    # No Object Lock here: the benchmark must delete what it wrote to free the memstore.
    return S3EvidenceStore(
        client, bucket, kek=kek, key_store=key_store, retention_days=None, max_bytes=8 * 1024**3
    )


def md5_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def delete_all(client: Any, bucket: str) -> None:
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


def measure_size(client: Any, bucket: str, size: int, reps: int, work: Path) -> dict[str, Any]:
    """One size: raw and store, plain and encrypted; distinct content per repetition
    (the store is content-addressed and would otherwise deduplicate)."""
    base = os.urandom(size)
    result: dict[str, Any] = {"size": size, "reps": reps}
    timings: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    for rep in range(reps):
        data = rep.to_bytes(8, "big") + base[8:] if size > 8 else base
        path = work / f"file-{rep}"
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        key = f"raw/{rep}"
        # raw boto3
        start = time.perf_counter()
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=md5_b64(data))
        record("raw_put", time.perf_counter() - start)
        start = time.perf_counter()
        got = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        record("raw_get", time.perf_counter() - start)
        assert len(got) == size
        for encrypted in (False, True):
            label = "enc" if encrypted else "plain"
            store = store_for(client, bucket, encrypted, work / f"keys-{rep}-{label}")
            start = time.perf_counter()
            digest = hashlib.sha256()
            with open(path, "rb") as handle:  # the client's own hashing pass
                while chunk := handle.read(1024 * 1024):
                    digest.update(chunk)
            hashed = time.perf_counter() - start
            start = time.perf_counter()
            with open(path, "rb") as handle:
                blob = store.put(handle, expected_sha256=digest.hexdigest())
            put_seconds = time.perf_counter() - start
            record(f"store_put_{label}", put_seconds)
            record(f"store_hash_put_{label}", put_seconds + hashed)
            assert blob.sha256 == sha and not blob.already_stored
            start = time.perf_counter()
            total = sum(len(chunk) for chunk in store.read(sha))
            record(f"store_get_{label}", time.perf_counter() - start)
            assert total == size
            delete_all(client, bucket)
        path.unlink()
    for name, values in timings.items():
        values.sort()
        median = values[len(values) // 2]
        result[name] = {"median_s": median, "mb_per_s": size / median / 1e6}
    for op in ("put", "get"):
        raw = result[f"raw_{op}"]["mb_per_s"]
        for label in ("plain", "enc"):
            result[f"ratio_{op}_{label}"] = result[f"store_{op}_{label}"]["mb_per_s"] / raw
        for label in ("plain", "enc"):
            if op == "put":
                result[f"ratio_hash_put_{label}"] = (
                    result[f"store_hash_put_{label}"]["mb_per_s"] / raw
                )
    return result


class Pattern(io.RawIOBase):
    """Deterministic bytes on demand: a big upload without a big buffer."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = hashlib.sha256(b"evidence").digest() * 32768  # 1 MiB

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = min(self.remaining, len(self.block) if n < 0 else n)
        self.remaining -= n
        if n <= len(self.block):
            return self.block[:n]
        return (self.block * (n // len(self.block) + 1))[:n]


def _vm_hwm_kb() -> int:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the parent's high-water
    mark across fork and exec into the child's ru_maxrss, so a child of a parent that once
    held 600 MB reports 600 MB before doing anything."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def big_upload_child(endpoint: str, bucket: str, size: int, encrypted: bool) -> None:
    """Runs in its own process so that its peak RSS is the upload's alone."""
    digest = hashlib.sha256()
    pattern = Pattern(size)
    while chunk := pattern.read(1024 * 1024):
        digest.update(chunk)
    client = make_client(endpoint, "us-east-1", ACCESS, SECRET)
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    store = store_for(client, bucket, encrypted, keys)
    baseline = _vm_hwm_kb()
    start = time.perf_counter()
    blob = store.put(Pattern(size), expected_sha256=digest.hexdigest())
    seconds = time.perf_counter() - start
    peak = _vm_hwm_kb()
    assert blob.size == size
    delete_all(client, bucket)
    shutil.rmtree(keys, ignore_errors=True)
    print(
        json.dumps(
            {
                "size": size,
                "encrypted": encrypted,
                "seconds": seconds,
                "mb_per_s": size / seconds / 1e6,
                "peak_rss_mb": peak / 1024,
                "rss_before_mb": baseline / 1024,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["1K", "1M", "100M"])
    parser.add_argument("--big", default="2G", help="size of the peak-RSS upload (0 to skip)")
    parser.add_argument("--endpoint", help="use this S3 server instead of starting Ceph")
    parser.add_argument(
        "--objectstore", choices=["bluestore", "memstore"], default="bluestore",
        help="the started Ceph's OSD backend (memstore is 4 GiB: too small with --big 2G)",
    )  # fmt: skip
    parser.add_argument(
        "--child", nargs=4, metavar=("ENDPOINT", "BUCKET", "SIZE", "ENC"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        endpoint, bucket, size, enc = args.child
        big_upload_child(endpoint, bucket, int(size), enc == "1")
        return 0
    facts = machine_facts()
    if args.endpoint:
        return run(args, args.endpoint, facts)
    with Ceph(args.objectstore) as endpoint:
        return run(args, endpoint, facts)


def run(args: argparse.Namespace, endpoint: str, facts: dict[str, Any]) -> int:
    client = make_client(endpoint, "us-east-1", ACCESS, SECRET)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    sizes = [parse_size(s) for s in args.sizes]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as work:
        for size in sizes:
            reps = REPS.get(size, max(3, min(200, (200 * 1024**2) // size)))
            reps = min(reps, 3) if SMOKE else reps
            print(f"size {size:,} bytes x {reps} ...", file=sys.stderr, flush=True)
            rows.append(measure_size(client, bucket, size, reps, Path(work)))
    big = []
    big_size = parse_size(args.big) if args.big != "0" else 0
    if big_size:
        for encrypted in (False, True):
            print(
                f"big upload {big_size:,} bytes, encrypted={encrypted} ...",
                file=sys.stderr,
                flush=True,
            )
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    endpoint,
                    bucket,
                    str(big_size),
                    "1" if encrypted else "0",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            big.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    report(rows, big, facts)
    return 0


def report(rows: list[dict[str, Any]], big: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    headers = [
        "size",
        "reps",
        "raw put MB/s",
        "store put MB/s (plain / enc)",
        "put ratio (plain / enc)",
        "+client hash ratio (plain / enc)",
        "raw get MB/s",
        "store get MB/s (plain / enc)",
        "get ratio (plain / enc)",
        "goal met?",
    ]
    table = []
    for r in rows:
        size = r["size"]
        goal = "-"
        if size >= 1024**2:
            ok = all(
                r[f"ratio_{op}_plain"] >= 0.8 and r[f"ratio_{op}_enc"] >= 0.6
                for op in ("put", "get")
            )
            goal = "yes" if ok else "NO"
        table.append(
            [
                f"{size:,}",
                r["reps"],
                f"{r['raw_put']['mb_per_s']:.1f}",
                f"{r['store_put_plain']['mb_per_s']:.1f} / {r['store_put_enc']['mb_per_s']:.1f}",
                f"{r['ratio_put_plain']:.2f} / {r['ratio_put_enc']:.2f}",
                f"{r['ratio_hash_put_plain']:.2f} / {r['ratio_hash_put_enc']:.2f}",
                f"{r['raw_get']['mb_per_s']:.1f}",
                f"{r['store_get_plain']['mb_per_s']:.1f} / {r['store_get_enc']['mb_per_s']:.1f}",
                f"{r['ratio_get_plain']:.2f} / {r['ratio_get_enc']:.2f}",
                goal,
            ]
        )
    print(text_table(headers, table))
    big_rows = [
        [
            f"{b['size']:,}",
            "yes" if b["encrypted"] else "no",
            f"{b['mb_per_s']:.1f}",
            f"{b['peak_rss_mb']:.0f}",
            f"{b['rss_before_mb']:.0f}",
        ]
        for b in big
    ]
    big_headers = ["upload bytes", "encrypted", "MB/s", "peak RSS MB", "RSS before upload MB"]
    if big_rows:
        print(text_table(big_headers, big_rows))
    markdown = (
        "# Evidence store vs raw boto3 on Ceph RGW (same server, same run)\n\n"
        + facts_markdown(facts)
        + "\nMedians over the repetitions. Ratios are store/raw throughput; goal: >= 0.80 "
        "without encryption, >= 0.60 with it, for files >= 1 MB.\n\n"
        + md_table(headers, table)
        + (
            "\n## Peak RSS of a process uploading a generated stream (never held in memory)\n\n"
            + md_table(big_headers, big_rows)
            if big_rows
            else ""
        )
    )
    write_results("evidence", {"facts": facts, "sizes": rows, "big": big}, markdown)


if __name__ == "__main__":
    sys.exit(main())
