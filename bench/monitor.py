"""Monitor benchmark (issue 16): how fast a monitor mirrors the log through /tlog/, and
the public pages' times.

    python bench/monitor.py --n 10000 100000 1000000

For each N, on a private copy of the cached SQLite ledger of N signed entries
(bench/verify.py's cache, built by bench/ingest.py's workload if missing, with a signed
checkpoint over the whole log; the cache itself is never modified), a real
`inquiry-ledger serve --workers W` runs on loopback, and a monitor client written here
(httpx, and only ledger/auditor's hashing and note code: none of the product's tile
code) mirrors the log with 1 and 4 concurrent fetchers:

* hash tiles: GET /tlog/checkpoint, its signature checked with the log's verifier key
  (the home's log.vkey, as an operator publishes it); every hash tile of level 0 and
  the levels above; each full tile must hash to its node in the tile above, and the
  root recomputed from the tiles must equal the checkpoint's;
* hash tiles + entry bundles: the same, then every entry bundle (/tlog/tile/entries/N,
  an auditor's token), each entry's leaf hash checked against the level-0 tile;
* the baseline, in the same run: the same entries read through the JSON API,
  GET /v1/log/entries pages of `--page` (the most it allows), base64-decoded, hashed and
  folded into the root, which must equal the checkpoint's. At 1,000,000 entries these
  pages cost O(start) each (see bench/README.md), so past `--json-budget` seconds the
  rest of the pages are sampled and the total extrapolated, and the table says so.

Reported: entries/s mirrored, requests, bytes received (bodies as sent plus response
headers), the server's CPU (its processes, /proc) and the client's, per-request
latency of each route, and how each cost grows with N.

Then, one request at a time, probes: /healthz, /v1/me (the token check), and the first
and the last full hash tile, entry bundle and 256-entry JSON page (`--requests` each).

Then, on a second server with INQUIRY_LEDGER_PUBLIC=on, the hash tiles mirrored again
with no token, and the public pages (no sign-in): GET /public,
/public/recommendations/1, /public/agencies/council, /public/v1/plan and
/public/v1/recommendations/1, `--requests` times each (p50/p95; the first request,
which builds the view the server then caches per checkpoint, apart). The as-of
projection is built ahead (`projected`). A route that answers 404 (not there yet) is
skipped, and the report says so.

Writes bench/results/<name>.json and .md (default issue16_monitor). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.api import CpuSample, descendants, self_cpu, server
from bench.asof import copy_store
from bench.common import (
    CACHE,
    REPO,
    Store,
    facts_markdown,
    fmt_mb,
    machine_facts,
    md_table,
    peak_rss_kb,
    text_table,
    write_results,
)
from bench.verify import ensure_ledger
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import CompactRange, fold, leaf_hash, node_hash
from ledger.auditor.note import VerifierKey, open_note

SEED = 20240102
BATCH = 100
HEIGHT = 8
WIDTH = 1 << HEIGHT
HASH = 32
PUBLIC_ROUTES = (
    ("plan page", "/public"),
    ("recommendation page", "/public/recommendations/1"),
    ("agency page", "/public/agencies/council"),
    ("plan JSON", "/public/v1/plan"),
    ("recommendation JSON", "/public/v1/recommendations/1"),
)


class MirrorError(Exception):
    """What the server sent does not check out: the run is not valid."""


# -- the monitor client: C2SP tlog-tiles, written from the spec -----------------------------


def tile_index(index: int, width: int = WIDTH) -> str:
    """C2SP tlog-tiles path of N: 3-digit elements, x-prefixed but the last; .p/W partial."""
    parts = [f"{index % 1000:03d}"]
    while index >= 1000:
        index //= 1000
        parts.append(f"x{index % 1000:03d}")
    return "/".join(reversed(parts)) + ("" if width == WIDTH else f".p/{width}")


def tiles_of(size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of every hash tile a tree of `size` leaves has: level L
    holds the size >> 8L nodes at height 8L, 256 a tile, the last one partial."""
    out = []
    level = 0
    while (nodes := size >> (HEIGHT * level)) > 0:
        out += [(level, i, min(WIDTH, nodes - i * WIDTH)) for i in range(-(-nodes // WIDTH))]
        level += 1
    return out


def perfect_root(hashes: list[bytes]) -> bytes:
    """The root of a perfect subtree whose 2**k bottom nodes are `hashes`."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def split(data: bytes) -> list[bytes]:
    return [data[i : i + HASH] for i in range(0, len(data), HASH)]


def verify_tiles(size: int, root: bytes, tiles: dict[tuple[int, int], bytes]) -> int:
    """Check the tiles against each other and the checkpoint's root; return the hashes
    computed. Every full tile must hash to its node in the tile above; the root is
    folded from the perfect subtrees of `size` (one per set bit), each read from the
    tiles of its level (or hashed up from the level below, height % 8 times)."""
    hashed = 0
    for (level, index), data in tiles.items():
        if len(data) != WIDTH * HASH:
            continue
        parent = tiles[(level + 1, index >> HEIGHT)]
        at = (index & (WIDTH - 1)) * HASH
        hashed += WIDTH - 1
        if perfect_root(split(data)) != parent[at : at + HASH]:
            raise MirrorError(f"tile {level}/{index} does not hash to its parent node")

    def node(height: int, index: int) -> bytes:
        level, rest = divmod(height, HEIGHT)
        first, count = index << rest, 1 << rest
        hashes = []
        for k in range(first, first + count):
            data = tiles[(level, k >> HEIGHT)]
            at = (k & (WIDTH - 1)) * HASH
            hashes.append(data[at : at + HASH])
        return perfect_root(hashes)

    subtrees, offset = [], 0
    for height in range(size.bit_length() - 1, -1, -1):
        if size >> height & 1:
            subtrees.append(node(height, offset >> height))
            offset += 1 << height
    hashed += len(subtrees)
    if fold(subtrees) != root:
        raise MirrorError("the root recomputed from the tiles is not the checkpoint's")
    return hashed


def read_bundle(data: bytes) -> list[bytes]:
    """C2SP entry bundle: each entry a big-endian uint16 length and its bytes."""
    entries, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + length > len(data):
            raise MirrorError("truncated entry bundle")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


@dataclass
class Traffic:
    """Requests made, bytes received and per-request seconds, by kind (thread-safe)."""

    requests: dict[str, int] = field(default_factory=dict)
    body_bytes: dict[str, int] = field(default_factory=dict)
    header_bytes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    cache_control: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, response: httpx.Response, seconds: float) -> None:
        headers = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
        headers += len(response.http_version) + len(response.reason_phrase) + 7
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            self.body_bytes[kind] = self.body_bytes.get(kind, 0) + response.num_bytes_downloaded
            self.header_bytes[kind] = self.header_bytes.get(kind, 0) + headers
            self.seconds.setdefault(kind, []).append(seconds)
            self.cache_control.setdefault(kind, set()).add(
                response.headers.get("cache-control", "-")
            )

    def summary(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "bytes": sum(self.body_bytes.values()) + sum(self.header_bytes.values()),
            "body_bytes": sum(self.body_bytes.values()),
            "by_kind": {
                kind: {
                    "requests": self.requests[kind],
                    "body_bytes": self.body_bytes[kind],
                    "header_bytes": self.header_bytes[kind],
                    **percentiles(self.seconds[kind]),
                    "cache_control": sorted(self.cache_control[kind]),
                }
                for kind in self.requests
            },
        }


class Fetcher:
    """`concurrency` threads, each with its own keep-alive connection to the server."""

    def __init__(self, base: str, concurrency: int, traffic: Traffic) -> None:
        self.base, self.concurrency, self.traffic = base, concurrency, traffic
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        found: httpx.Client | None = getattr(self._local, "client", None)
        if found is None:
            found = httpx.Client(base_url=self.base, timeout=600)
            self._local.client = found
            with self._lock:
                self._clients.append(found)
        return found

    def get(self, kind: str, path: str, token: str | None, params: Any = None) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        start = time.perf_counter()
        response = self.client().get(path, headers=headers, params=params)
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise MirrorError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        self.traffic.add(kind, response, seconds)
        return response.content

    def map(self, work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if self.concurrency == 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(work, items))

    def close(self) -> None:
        for client in self._clients:
            client.close()


def checkpoint(fetch: Fetcher, token: str, vkey: VerifierKey) -> Checkpoint:
    note = fetch.get("checkpoint", "/tlog/checkpoint", token).decode()
    return Checkpoint.parse_body(open_note(note, vkey))


def mirror_tiles(
    base: str, concurrency: int, vkey: VerifierKey, token: str, auditor: str, bundles: bool
) -> dict[str, Any]:
    """Mirror the log through /tlog/: hash tiles (and entry bundles), all verified."""
    traffic = Traffic()
    fetch = Fetcher(base, concurrency, traffic)
    tiles: dict[tuple[int, int], bytes] = {}
    entries_checked = [0]
    entry_bytes = [0]
    count_lock = threading.Lock()
    try:
        start = time.perf_counter()
        head = checkpoint(fetch, token, vkey)
        wanted = tiles_of(head.size)

        def get_tile(tile: tuple[int, int, int]) -> None:
            level, index, width = tile
            data = fetch.get(
                f"hash tile L{min(level, 2)}",
                f"/tlog/tile/{level}/{tile_index(index, width)}",
                token,
            )
            if len(data) != width * HASH:
                raise MirrorError(f"tile {level}/{index} has {len(data)} bytes, not {width * 32}")
            tiles[(level, index)] = data

        fetch.map(get_tile, wanted)
        fetched = time.perf_counter()
        hashed = verify_tiles(head.size, head.root_hash, tiles)
        tiles_done = time.perf_counter()

        def get_bundle(tile: tuple[int, int, int]) -> None:
            _, index, width = tile
            data = fetch.get(
                "entry bundle", f"/tlog/tile/entries/{tile_index(index, width)}", auditor
            )
            found = read_bundle(data)
            leaves = tiles[(0, index)]
            if len(found) != width:
                raise MirrorError(f"bundle {index} has {len(found)} entries, not {width}")
            for k, entry in enumerate(found):
                if leaf_hash(entry) != leaves[k * HASH : (k + 1) * HASH]:
                    raise MirrorError(f"entry {index * WIDTH + k} does not hash to its leaf")
            with count_lock:
                entries_checked[0] += width
                entry_bytes[0] += sum(len(e) for e in found)

        if bundles:
            fetch.map(get_bundle, [t for t in wanted if t[0] == 0])
            if entries_checked[0] != head.size:
                raise MirrorError(f"{entries_checked[0]} entries checked of {head.size}")
        end = time.perf_counter()
    finally:
        fetch.close()
    return {
        "tree_size": head.size,
        "seconds": end - start,
        "tile_fetch_seconds": round(fetched - start, 3),
        "tile_verify_seconds": round(tiles_done - fetched, 3),
        "bundle_seconds": round(end - tiles_done, 3) if bundles else None,
        "hash_tiles": len(wanted),
        "hashes_computed_for_tiles": hashed,
        "entries_checked": entries_checked[0],
        "entry_bytes": entry_bytes[0],
        "tile_levels": 1 + max(level for level, _, _ in wanted),
        **traffic.summary(),
    }


def mirror_json(
    base: str,
    concurrency: int,
    vkey: VerifierKey,
    token: str,
    page: int,
    budget: float,
    alone: dict[int, float] | None = None,
) -> dict[str, Any]:
    """The baseline: every entry through GET /v1/log/entries, hashed and folded into the
    root. Pages are fetched in log order (one fetcher) or spread over the fetchers; once
    `budget` seconds have passed, the rest is extrapolated (`sample_rest`; `alone`: the
    one-fetcher run's page times, by start). The route reads from the log's first entry
    each time, so a page costs O(start)."""
    traffic = Traffic()
    fetch = Fetcher(base, concurrency, traffic)
    pages: dict[int, list[bytes]] = {}
    page_seconds: dict[int, float] = {}
    try:
        start = time.perf_counter()
        head = checkpoint(fetch, token, vkey)
        starts = list(range(0, head.size, page))
        deadline = start + budget
        sampled = [False]

        def get_page(first: int) -> None:
            if sampled[0] or time.perf_counter() > deadline:
                sampled[0] = True
                return
            t0 = time.perf_counter()
            data = fetch.get("JSON page", "/v1/log/entries", token, {"start": first, "limit": page})
            obj = json.loads(data)
            wanted = min(page, head.size - first)
            if obj["start"] != first or len(obj["entries"]) < wanted:
                raise MirrorError(f"page at {first} has {len(obj['entries'])} entries")
            pages[first] = [leaf_hash(base64.b64decode(e)) for e in obj["entries"][:wanted]]
            page_seconds[first] = time.perf_counter() - t0

        fetch.map(get_page, starts)
        fetched_end = time.perf_counter()
        result: dict[str, Any] = {"tree_size": head.size, "page": page, "pages": len(starts)}
        if len(pages) == len(starts):
            tree = CompactRange()
            for first in starts:
                for leaf in pages[first]:
                    tree.append(leaf)
            if tree.size != head.size or tree.root() != head.root_hash:
                raise MirrorError("the root of the JSON API's entries is not the checkpoint's")
            end = time.perf_counter()
            result.update(
                seconds=end - start,
                fold_seconds=round(end - fetched_end, 3),
                extrapolated=False,
                entries_checked=tree.size,
            )
        else:
            result.update(
                sample_rest(
                    fetch,
                    token,
                    head.size,
                    page,
                    starts,
                    pages,
                    page_seconds,
                    fetched_end - start,
                    concurrency,
                    alone or {},
                )
            )
        result["page_ms_by_start"] = {
            str(s): round(1000 * v, 1) for s, v in sorted(page_seconds.items())
        }
    finally:
        fetch.close()
    result.update(traffic.summary())
    return result


def sample_rest(
    fetch: Fetcher,
    token: str,
    size: int,
    page: int,
    starts: list[int],
    pages: dict[int, list[bytes]],
    page_seconds: dict[int, float],
    elapsed: float,
    concurrency: int,
    alone: dict[int, float],
) -> dict[str, Any]:
    """After the budget: time ~10 of the remaining pages one at a time, and fit
    seconds = a + b * start over every page timed one at a time (this run's with one
    fetcher; with more, these and the one-fetcher run's, `alone`). The pages not fetched
    cost their fitted times divided by the speed-up the fetchers reached on the budget's
    pages (those pages' one-at-a-time times over the budget's wall time)."""
    rest = [s for s in starts if s not in pages]
    step = max(1, len(rest) // 10)
    sampled = rest[step - 1 :: step]
    timed_alone = dict(page_seconds) if concurrency == 1 else dict(alone)
    for first in sampled:
        t0 = time.perf_counter()
        fetch.get("JSON page", "/v1/log/entries", token, {"start": first, "limit": page})
        timed_alone[first] = page_seconds[first] = time.perf_counter() - t0
    xs, ys = list(timed_alone), list(timed_alone.values())
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    intercept = mean_y - slope * mean_x

    def one_at_a_time(first: int) -> float:
        if first in timed_alone:
            return timed_alone[first]
        return max(0.0, intercept + slope * first)

    speedup = sum(one_at_a_time(s) for s in pages) / elapsed if pages else 1.0
    rest_seconds = sum(one_at_a_time(s) for s in rest) / max(speedup, 0.1)
    return {
        "seconds": elapsed + rest_seconds,
        "extrapolated": True,
        "measured_pages": len(pages),
        "sampled_pages": len(sampled),
        "budget_elapsed_seconds": round(elapsed, 1),
        "speedup_on_budget_pages": round(speedup, 2),
        "fit_ms_per_page": {
            "at_start_0": round(1000 * intercept, 1),
            "per_100k_start": round(1000 * slope * 100_000, 1),
            "points": len(timed_alone),
        },
        "entries_checked": sum(len(v) for v in pages.values()),
    }


def probe_routes(
    base: str, token: str, auditor: str, size: int, repeat: int, budget: float
) -> dict[str, Any]:
    """One request at a time, `repeat` times each (fewer, at least 5, once a route has
    taken `budget` seconds): the HTTP floor (/healthz), a token
    check (/v1/me), and the same 256 entries as the first and the last full level-0
    tile, entry bundle and JSON page (limit=256), so a route's cost by position shows."""
    last = (size // WIDTH - 1) * WIDTH
    routes = [
        ("GET /healthz (no token)", "/healthz", None, None),
        ("GET /v1/me (token check)", "/v1/me", token, None),
        ("GET /tlog/checkpoint", "/tlog/checkpoint", token, None),
        ("hash tile 0/000 (leaves 0-255)", "/tlog/tile/0/000", token, None),
        (
            f"hash tile 0/{tile_index(last // WIDTH)} (the last full)",
            f"/tlog/tile/0/{tile_index(last // WIDTH)}",
            token,
            None,
        ),
        ("entry bundle 000", "/tlog/tile/entries/000", auditor, None),
        (
            f"entry bundle {tile_index(last // WIDTH)} (the last full)",
            f"/tlog/tile/entries/{tile_index(last // WIDTH)}",
            auditor,
            None,
        ),
        ("JSON start=0 limit=256", "/v1/log/entries", auditor, {"start": 0, "limit": WIDTH}),
        (
            f"JSON start={last:,} limit=256",
            "/v1/log/entries",
            auditor,
            {"start": last, "limit": WIDTH},
        ),
    ]
    out: dict[str, Any] = {}
    traffic = Traffic()
    fetch = Fetcher(base, 1, traffic)
    try:
        for label, path, who, params in routes:
            fetch.get(label, path, who, params)  # warm: connection, caches
            samples: list[float] = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fetch.get(label, path, who, params)
                samples.append(time.perf_counter() - t0)
                if len(samples) >= 5 and sum(samples) > budget:
                    break
            out[label] = percentiles(samples)
    finally:
        fetch.close()
    return out


# -- the public pages --------------------------------------------------------------------------


def time_public(base: str, requests: int, budget: float) -> dict[str, Any]:
    """`requests` GETs of each public route, one at a time; a route that has taken
    `budget` seconds stops early (after at least 5), and its n says so."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=600) as http:
        for label, path in PUBLIC_ROUTES:
            t0 = time.perf_counter()
            first = http.get(path)
            first_seconds = time.perf_counter() - t0
            if first.status_code == 404:
                out[label] = {
                    "path": path,
                    "skipped": f"404 ({first.text[:120]}): route not there (yet)",
                }
                continue
            samples, statuses, size = [], set(), 0
            for _ in range(requests):
                t0 = time.perf_counter()
                got = http.get(path)
                samples.append(time.perf_counter() - t0)
                if len(samples) >= 5 and sum(samples) > budget:
                    break
                statuses.add(got.status_code)
                size = len(got.content)
            out[label] = {
                "path": path,
                "first_ms": round(first_seconds * 1000, 1),
                "first_status": first.status_code,
                "statuses": sorted(statuses),
                "bytes": size,
                **percentiles(samples),
            }
    return out


# -- one N ---------------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


@contextmanager
def measured(pid: int) -> Iterator[dict[str, float]]:
    """CPU seconds of the server (every process below `pid`) and of this process."""
    cpu: dict[str, float] = {}
    before, mine = CpuSample(descendants(pid)), self_cpu()
    yield cpu
    cpu["server_cpu_s"] = round(CpuSample(descendants(pid)).since(before)[0], 2)
    cpu["client_cpu_s"] = round(self_cpu() - mine, 2)


def projected(manifest: dict[str, Any]) -> dict[str, Any]:
    """The cached ledger with its as-of projection built, kept beside it in the cache
    (monitor-<backend>-<N>/, made once from a copy: the verify cache itself is never
    modified). The server catches the projection up in the background when it starts
    (api/http/app.py); built ahead, as a running server keeps it, the mirror does not
    share the cores with a catch-up of the whole log (7 minutes at 1,000,000)."""
    from ledger.config import LedgerConfig
    from ledger.service import Ledger
    from projections.projector import projector_for

    cached = Store.from_json(manifest["store"])
    folder = CACHE / f"monitor-{cached.backend}-{manifest['n']}"
    marker = folder / "built-from.json"
    made_from = {"home": str(cached.home), "created": manifest.get("created")}
    if marker.exists():
        found = json.loads(marker.read_text())
        if found["made_from"] == made_from:
            print(f"   reusing {folder} (projection built)", flush=True)
            return dict(found["manifest"])
    shutil.rmtree(folder, ignore_errors=True)
    print(f"   building the projection into {folder}", flush=True)
    store = copy_store(manifest, folder)
    t0 = time.perf_counter()
    with Ledger(LedgerConfig(home=store.home, database_url=store.database_url)) as ledger:
        projector_for(ledger).rebuild(ledger)
    source = {
        **manifest,
        "store": store.to_json(),
        "projection_rebuild_s": round(time.perf_counter() - t0, 1),
    }
    source.pop("built_now", None)
    marker.write_text(json.dumps({"made_from": made_from, "manifest": source}, indent=2))
    return source


def prepare(store: Store) -> dict[str, Any]:
    """Tokens, the log's verifier key, a checkpoint over the whole log, the projection."""
    from api.application.tokens import TokenStore
    from ledger.auditor.note import NoteSigner
    from ledger.config import LedgerConfig
    from ledger.keys import KeyPair
    from ledger.service import Ledger

    config = LedgerConfig(home=store.home, database_url=store.database_url)
    vkey = VerifierKey.parse(config.log_vkey_path.read_text())
    out: dict[str, Any] = {"vkey": vkey.encode()}
    with Ledger(config) as ledger:
        size = ledger.tree_size()
        latest = ledger.latest_checkpoint()
        if latest is None or latest.tree_size != size:
            ledger.sign_checkpoint(NoteSigner(vkey.name, KeyPair.read(config.log_key_path)))
        out["tree_size"] = size
        tokens = TokenStore(ledger.tables)
        out["token"] = tokens.create("council.officer", timedelta(hours=6))  # any role
        out["auditor"] = tokens.create("scrutiny", timedelta(hours=6))  # an auditor
        # Built in the source (`projected`); a no-op unless the cache is older.
        from projections.projector import projector_for

        t0 = time.perf_counter()
        projector_for(ledger).catch_up(ledger)
        out["projection_catch_up_s"] = round(time.perf_counter() - t0, 1)
    return out


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    _, manifest = ensure_ledger("sqlite", n, BATCH, SEED)
    public = (REPO / "api" / "http" / "public").is_dir() or args.public == "always"
    if args.public == "never":
        public = False
    result: dict[str, Any] = {"n": n, "built_now": manifest.get("built_now"), "phases": []}
    source = projected(manifest)
    result["projection_rebuild_s"] = source["projection_rebuild_s"]
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as folder:
        store = copy_store(source, Path(folder))
        try:
            t0 = time.perf_counter()
            setup = prepare(store)
            result["setup_seconds"] = round(time.perf_counter() - t0, 1)
            result["projection_catch_up_s"] = setup["projection_catch_up_s"]
            size = result["tree_size"] = setup["tree_size"]
            vkey = VerifierKey.parse(setup["vkey"])
            env = {
                "INQUIRY_LEDGER_HOME": str(store.home),
                "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0",
                "INQUIRY_LEDGER_PUBLIC": "off",
            }
            with server(env, args.workers) as (base, pid, log_path):
                for concurrency in args.concurrency:
                    for kind in ("tiles", "tiles+bundles", "json"):
                        print(f"   N={size:,} {kind} x{concurrency}", flush=True)
                        load = round(os.getloadavg()[0], 2)
                        with measured(pid) as cpu:
                            if kind == "json":
                                one = phase(result, "json", 1)
                                found = mirror_json(
                                    base,
                                    concurrency,
                                    vkey,
                                    setup["auditor"],
                                    args.page,
                                    args.json_budget,
                                    {int(k): ms / 1000 for k, ms in one["page_ms_by_start"].items()}
                                    if one
                                    else None,
                                )
                            else:
                                found = mirror_tiles(
                                    base,
                                    concurrency,
                                    vkey,
                                    setup["token"],
                                    setup["auditor"],
                                    kind != "tiles",
                                )
                        found.update(cpu, kind=kind, concurrency=concurrency, load_1m=load)
                        found["entries_per_s"] = round(size / found["seconds"], 1)
                        print(
                            f"     {found['entries_per_s']:,.0f} entries/s, "
                            f"{found['seconds']:.1f} s, {fmt_mb(found['bytes'])} MB, "
                            f"{found['requests']:,} requests"
                            f"{' (extrapolated)' if found.get('extrapolated') else ''}; "
                            f"server CPU {cpu['server_cpu_s']} s, client {cpu['client_cpu_s']} s",
                            flush=True,
                        )
                        result["phases"].append(found)
                print(f"   N={size:,} route probes", flush=True)
                result["probes"] = probe_routes(
                    base, setup["token"], setup["auditor"], size, args.requests, 60
                )
                log = log_path.read_text(errors="replace")
                result["server_traceback"] = "Traceback" in log
            if public:
                env["INQUIRY_LEDGER_PUBLIC"] = "on"
                with server(env, args.workers) as (base, pid, log_path):
                    for concurrency in args.concurrency:
                        print(f"   N={size:,} public hash tiles x{concurrency}", flush=True)
                        load = round(os.getloadavg()[0], 2)
                        with measured(pid) as cpu:
                            found = mirror_tiles(base, concurrency, vkey, "", "", False)
                        found.update(
                            cpu, kind="public tiles", concurrency=concurrency, load_1m=load
                        )
                        found["entries_per_s"] = round(size / found["seconds"], 1)
                        result["phases"].append(found)
                    print(f"   N={size:,} public pages", flush=True)
                    result["public"] = time_public(base, args.requests, args.public_budget)
                    result["public_server_traceback"] = "Traceback" in log_path.read_text(
                        errors="replace"
                    )
            else:
                result["public"] = {
                    "skipped": "api/http/public/ is not in the tree: no public pages to time"
                }
        finally:
            store.destroy()
    return result


# -- the report ------------------------------------------------------------------------------------


def phase(run: dict[str, Any], kind: str, concurrency: int) -> dict[str, Any] | None:
    for found in run["phases"]:
        if found["kind"] == kind and found["concurrency"] == concurrency:
            return dict(found)
    return None


LABELS = {
    "tiles": "hash tiles",
    "public tiles": "hash tiles, published (no token)",
    "tiles+bundles": "hash tiles + entry bundles",
    "json": "JSON /v1/log/entries (baseline)",
}


def summary_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "entries",
        "mirror",
        "fetchers",
        "entries/s",
        "seconds",
        "requests",
        "MB received",
        "bytes/entry",
        "server CPU s",
        "server CPU us/entry",
        "client CPU s",
        "JSON s / this s (same fetchers)",
        "load (1 min) at start",
    ]
    rows = []
    for run in runs:
        for found in run["phases"]:
            json_run = phase(run, "json", found["concurrency"])
            ratio = "-"
            if found["kind"] != "json" and json_run:
                ratio = f"{json_run['seconds'] / found['seconds']:,.1f}x"
            rows.append(
                [
                    f"{run['tree_size']:,}",
                    LABELS[found["kind"]],
                    found["concurrency"],
                    ("~" if found.get("extrapolated") else "") + f"{found['entries_per_s']:,.0f}",
                    ("~" if found.get("extrapolated") else "") + f"{found['seconds']:,.1f}",
                    f"{found['requests']:,}",
                    fmt_mb(found["bytes"]),
                    f"{found['bytes'] / run['tree_size']:,.1f}",
                    f"{found['server_cpu_s']}"
                    + (" (fetched)" if found.get("extrapolated") else ""),
                    "-"
                    if found.get("extrapolated")
                    else f"{1e6 * found['server_cpu_s'] / run['tree_size']:,.0f}",
                    found["client_cpu_s"],
                    ratio,
                    found.get("load_1m", "-"),
                ]
            )
    return headers, rows


def growth_rows(runs: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for prev, run in itertools.pairwise(runs):
        factor = run["tree_size"] / prev["tree_size"]
        for kind in LABELS:
            for c in sorted({f["concurrency"] for f in run["phases"]}):
                a, b = phase(prev, kind, c), phase(run, kind, c)
                if a and b:
                    rows.append(
                        [
                            f"{prev['tree_size']:,} -> {run['tree_size']:,} ({factor:.1f}x)",
                            LABELS[kind],
                            c,
                            f"{b['seconds'] / a['seconds']:.1f}x",
                            f"{b['server_cpu_s'] / max(a['server_cpu_s'], 0.01):.1f}x",
                            f"{b['bytes'] / a['bytes']:.1f}x",
                        ]
                    )
    return rows


def latency_rows(runs: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for run in runs:
        for kind in ("tiles+bundles", "json"):
            found = phase(run, kind, 1)
            if not found:
                continue
            for name, k in found["by_kind"].items():
                rows.append(
                    [
                        f"{run['tree_size']:,}",
                        name,
                        f"{k['requests']:,}",
                        f"{k['p50_ms']:.2f} / {k['p95_ms']:.2f} / {k['max_ms']:.1f}",
                        f"{k['body_bytes'] / k['requests']:,.0f}",
                        " | ".join(k["cache_control"]),
                    ]
                )
    return rows


def public_rows(runs: list[dict[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    rows, skipped = [], []
    for run in runs:
        pub = run.get("public") or {}
        if "skipped" in pub:
            skipped.append(f"{run['tree_size']:,}: {pub['skipped']}")
            continue
        for found in pub.values():
            if "skipped" in found:
                skipped.append(f"{run['tree_size']:,} {found['path']}: {found['skipped']}")
                continue
            rows.append(
                [
                    f"{run['tree_size']:,}",
                    f"`{found['path']}`",
                    found["n"],
                    f"{found['p50_ms']:.1f}",
                    f"{found['p95_ms']:.1f}",
                    f"{found['max_ms']:.1f}",
                    f"{found['first_ms']:.1f}",
                    ", ".join(str(s) for s in found["statuses"]),
                    f"{found['bytes']:,}",
                ]
            )
    return rows, skipped


def _generic(label: str) -> str:
    """A probe's label without the index that depends on N (for one row per route)."""
    if "(the last full)" in label:
        return label.split(" ")[0] + " " + label.split(" ")[1] + " (the last full)"
    if label.startswith("JSON start=") and not label.startswith("JSON start=0 "):
        return "JSON start=(the last full tile's) limit=256"
    return label


def markdown(
    facts: dict[str, Any], args: dict[str, Any], runs: list[dict[str, Any]], status: str
) -> str:
    headers, rows = summary_rows(runs)
    out = [
        "# Issue 16: a monitor mirroring the log through /tlog/, and the public pages\n\n",
        f"Status: {status}.\n\n",
        facts_markdown(facts),
        f"- Run as: `cd {facts['cwd']} && PYTHONPATH=$PWD nice -n {facts.get('nice', '?')} "
        f".venv/bin/python {' '.join(facts['command'].split()[1:])}`\n",
        f"- Load average at end: {facts.get('loadavg_at_end', '-')}\n",
        f"- Server: `inquiry-ledger serve --workers {args['workers']}` on loopback, SQLite, "
        "checkpointing off, same machine as the client (2 cores shared)\n\n",
        "## Mirroring\n\n",
        md_table(headers, rows),
        "\nentries/s: the log's entries (tree size) over the wall time from the first ",
        "request to the last check. Hash tiles: checkpoint (signature checked with the ",
        "log's vkey), every hash tile of every level, each full tile hashed and compared ",
        "with its node in the tile above, the root folded from the tiles and compared with ",
        "the checkpoint's. + entry bundles: then every bundle (auditor token), each entry's ",
        "leaf hash compared with the level-0 tile. JSON: GET /v1/log/entries pages of ",
        f"{args['page']:,} (the most allowed), each entry decoded and hashed, all folded ",
        "into the root and compared with the checkpoint's. MB received: response bodies as ",
        "sent plus response headers. CPU: the server's processes (/proc) and the client ",
        "process, over the phase. `~`: extrapolated (below).\n\n",
    ]
    extrapolated = [
        (run["tree_size"], f) for run in runs for f in run["phases"] if f.get("extrapolated")
    ]
    if extrapolated:
        out.append("Extrapolated JSON baselines (the pages past the time budget):\n\n")
        for size, f in extrapolated:
            fit = f["fit_ms_per_page"]
            out.append(
                f"- {size:,} entries, {f['concurrency']} fetcher(s): {f['measured_pages']} of "
                f"{f['pages']} pages fetched in {f['budget_elapsed_seconds']} s, then "
                f"{f['sampled_pages']} of the rest timed; page time fitted as "
                f"{fit['at_start_0']} ms + {fit['per_100k_start']} ms per 100,000 entries of "
                f"`start` ({fit.get('points', '?')} pages timed one at a time"
                + (", with the one-fetcher run's" if f["concurrency"] > 1 else "")
                + "), summed over the pages not fetched and divided by the speed-up the "
                f"fetchers reached on the budget's pages ({f['speedup_on_budget_pages']}x)\n"
            )
        out.append("\n")
    out += [
        "## How the cost grows with the log\n\n",
        md_table(
            ["entries", "mirror", "fetchers", "wall time", "server CPU", "bytes"],
            growth_rows(runs),
        ),
        "\n## Per-request latency (1 fetcher): p50 / p95 / max ms\n\n",
        md_table(
            ["entries", "route", "requests", "p50 / p95 / max ms", "body bytes", "Cache-Control"],
            latency_rows(runs),
        ),
    ]
    probe_labels = list(dict.fromkeys(k for r in runs for k in r.get("probes", {})))
    if probe_labels:
        out.append(
            f"\n## One request at a time, {args['requests']} each: p50 / p95 ms\n\n"
            "The same first and last 256 entries through each route (a `limit=256` JSON "
            "page next to the bundle), and the floors: /healthz (no token) and /v1/me "
            "(the token check every /tlog/ and /v1/ route does).\n\n"
        )
        generic = [_generic(k) for k in probe_labels]
        labels = list(dict.fromkeys(generic))
        rows_r = []
        for label in labels:
            row: list[Any] = [label]
            for run in runs:
                found = next(
                    (v for k, v in run.get("probes", {}).items() if _generic(k) == label), None
                )
                row.append(f"{found['p50_ms']:.2f} / {found['p95_ms']:.2f}" if found else "-")
            rows_r.append(row)
        out.append(md_table(["route", *(f"{r['tree_size']:,}" for r in runs)], rows_r))
    rows_p, skipped = public_rows(runs)
    out.append(
        f"\n## Public pages (INQUIRY_LEDGER_PUBLIC=on), {args['requests']} requests each\n\n"
    )
    if rows_p:
        out.append(
            md_table(
                [
                    "entries",
                    "route",
                    "n",
                    "p50 ms (cached view)",
                    "p95 ms",
                    "max ms",
                    "first request ms (builds the view)",
                    "statuses",
                    "bytes",
                ],
                rows_p,
            )
        )
        out.append(
            "\nThe public views are cached per process and per checkpoint "
            "(api/http/public/views.py), and one keep-alive connection talks to one worker: "
            "the first request after the server started built the view (not in p50/p95), "
            "the rest are cache hits (a page and its JSON share one view, so the JSON's "
            "first request is a hit already); a new checkpoint makes the next request per worker "
            "pay the first request's time again. The as-of projection was built ahead, once, in a "
            "cached copy of the ledger (rebuild times) "
            + ", ".join(
                f"({r['tree_size']:,}: {r['projection_rebuild_s']} s)"
                for r in runs
                if r.get("projection_rebuild_s") is not None
            )
            + ".\n"
        )
    if skipped:
        out.append("\nSkipped:\n\n" + "".join(f"- {s}\n" for s in skipped))
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=2, help="serve --workers")
    parser.add_argument("--page", type=int, default=5000, help="JSON API page (max 5000)")
    parser.add_argument(
        "--json-budget", type=float, default=300, help="seconds before JSON pages are sampled"
    )
    parser.add_argument("--requests", type=int, default=50, help="per public route")
    parser.add_argument(
        "--public-budget", type=float, default=120, help="seconds per public route at most"
    )
    parser.add_argument(
        "--public",
        choices=["auto", "always", "never"],
        default="auto",
        help="time the public pages (auto: if api/http/public/ exists)",
    )
    parser.add_argument("--name", default="issue16_monitor", help="results file stem")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md from a run's JSON")
    args = parser.parse_args()
    if args.render:
        done = json.loads(Path(args.render).read_text())
        md = markdown(done["facts"], done["args"], done["runs"], done["status"])
        Path(args.render).with_suffix(".md").write_text(md)
        print(f"wrote {Path(args.render).with_suffix('.md')}")
        return
    facts = machine_facts()
    facts["nice"] = os.nice(0)
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"facts": facts, "args": vars(args), "runs": runs}
    status = "running"
    try:
        for n in args.n:
            print(f"== N={n:,}", flush=True)
            runs.append(run_size(n, args))
            write_results(args.name, payload, markdown(facts, vars(args), runs, "partial"))
        status = "complete"
    except BaseException as error:
        status = f"stopped early: {type(error).__name__}: {error}"
        raise
    finally:
        payload["status"] = status
        payload["peak_rss_kb"] = peak_rss_kb()
        facts["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        json_path, md_path = write_results(
            args.name, payload, markdown(facts, vars(args), runs, status)
        )
        headers, rows = summary_rows(runs)
        if rows:
            print()
            print(text_table(headers, rows))
        print(f"\nwrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
