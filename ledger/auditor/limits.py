"""How much a bundle may make the auditor read and hold: a hostile one fails closed, fast.

A bundle is its exporter's, and the exporter is not trusted. Deflate packs a run of one
byte about 1000 to 1, so a zip of 432 KiB can hold a member of 440 MB. Before these
bounds such a member was read whole (bundle.json and keys.json by `read()`, a line of
a .jsonl file with no newline in it by line iteration), then decoded or prefixed into a
second copy: 870 MB resident for a bundle of 432 KiB (issue 17). So:

- every line (an entry, a checkpoint, a manifest record, a rotation) is read with at
  most MAX_LINE bytes: 4 MiB, four times the largest request the API accepts
  (api/http/app.py, 1 MiB), so no entry the ledger appended comes near it;
- bundle.json at most MAX_META (1 MiB; an export writes a few hundred bytes), keys.json
  at most KEYS_BASE (1 MiB) + KEYS_PER_KEY (4 KiB) per key the replayed log registers
  (an export writes about 300 bytes a key: it cannot describe more than the log holds);
- a bundle may not hold more than it claims: entries.jsonl at most EXTRA_LINES entries
  past the largest signed (or saved) checkpoint, the manifest at most EXTRA_LINES
  records more than the entries attach, log-key-rotations.jsonl at most MAX_ROTATIONS
  lines; and once the report holds its 1000 problems no more entries are read;
- repetition, which is what deflate packs into nothing: an export never writes the same
  entry or checkpoint line twice, so at most EXTRA_LINES lines of entries.jsonl and of
  checkpoints.jsonl may repeat one of the REPEAT_WINDOW lines before them (`Repeats`;
  deflate refers back at most 32 KiB, so a line packed into a few bytes repeats one
  that close). Without it a million copies of one signed checkpoint (a 2 MB zip) cost a
  million signature checks;
- JSON nests at most canonical.MAX_DEPTH (64) levels, checked before the recursive
  canonicaliser could run out of stack;
- and the backstop, for whatever these miss: while the command-line auditor runs, its
  address space (and that of its signature workers) may grow by at most MEMORY_BUDGET
  (1 GiB, `--max-memory`), so an allocation past it fails with MemoryError, reported
  like the rest, instead of the machine swapping.

Each refusal is a BundleTooLarge, which the audit reports as one finding and the command
line as one line, "bundle too large/hostile: ...", with exit status 1.

Time: what is left is proportional to the entries the bundle's signed checkpoints
cover (each is parsed and its signature checked once), and to the evidence blobs'
listed sizes with --evidence; measured in tests/ledger/test_hostile_bundle.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

MAX_LINE = 4 * 1024 * 1024
MAX_META = 1024 * 1024
KEYS_BASE = 1024 * 1024
KEYS_PER_KEY = 4 * 1024
EXTRA_LINES = 1000
MAX_ROTATIONS = 1000
REPEAT_WINDOW = 1024
MEMORY_BUDGET = 1024 * 1024 * 1024

HOSTILE = "bundle too large/hostile"


class BundleTooLarge(Exception):
    """The bundle holds more than a genuine one could, or more than the auditor will read.

    Not a FormatError: the checks that report a malformed line and go on must not
    swallow it; it ends the audit."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{HOSTILE}: {detail}")
        self.detail = detail


class Repeats:
    """Counts the lines of one member that repeat one of the REPEAT_WINDOW distinct lines
    before them; BundleTooLarge past EXTRA_LINES. Memory: the window's hashes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.recent: dict[int, None] = {}  # insertion-ordered: the oldest first
        self.repeated = 0

    def see(self, line: bytes) -> None:
        key = hash(line)  # a collision only counts a line as repeated: harmless
        if key in self.recent:
            self.repeated += 1
            if self.repeated > EXTRA_LINES:
                raise BundleTooLarge(
                    f"{self.name} repeats lines more than {EXTRA_LINES} times (a genuine "
                    "export writes each once)"
                )
            return
        self.recent[key] = None
        if len(self.recent) > REPEAT_WINDOW:
            del self.recent[next(iter(self.recent))]


def keys_file_limit(keys: int) -> int:
    """The most bytes keys.json may hold for a log that registers `keys` keys."""
    return KEYS_BASE + KEYS_PER_KEY * keys


@contextmanager
def memory_budget(budget: int | None = MEMORY_BUDGET) -> Iterator[None]:
    """Let the process's address space grow by at most `budget` bytes while inside, by
    lowering the soft RLIMIT_AS (worker processes forked meanwhile inherit it), and put
    the limit back after. Nothing when `budget` is falsy, or where the address space in
    use cannot be read (not Linux): the bounds above still hold there."""
    previous = _lower_address_space(budget) if budget else None
    try:
        yield
    finally:
        if previous is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, previous)


def _lower_address_space(budget: int) -> tuple[int, int] | None:
    """Set the soft RLIMIT_AS to the address space in use plus `budget`; return the
    limits it replaced, or None if it changed nothing."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError, IndexError):
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = in_use + budget
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        return None  # already at least as tight
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return soft, hard
