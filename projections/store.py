"""The as-of projection's tables, beside the ledger's own, in the same database.

Why this shape. An as-of question ("the plan as it stood at position P / at time T")
needs, for each aggregate, its state after its last entry inside the cut. So the
projection keeps, per aggregate, one compact row per entry (`changes`: position,
signed time, version) and, only when the shown state actually changed, one JSON
snapshot (`snapshots`). A query is then one indexed seek per aggregate (~200 for the
Telford plan) whatever the log's length:

* by position: the last change with leaf < P, on the primary key (agg, leaf);
* by time: the last change with ts <= T, on the index (agg, ts, leaf). The ledger
  refuses an entry timestamped earlier than its aggregate's previous one, so a time
  cut is a prefix of every aggregate's history (not of the global log), and "the
  latest change at or before T" is that aggregate's exact state at T.

An aggregate is numbered by the leaf of its first entry (stable across rebuilds, and
smaller than a UUID in every index). Timestamps are integer microseconds since the
epoch (the signed timestamps have microsecond precision, so nothing is rounded).
The number of entries inside a cut is the sum of the aggregates' versions there.

Evidence has a table of its own (`evidence`): one row per entry that changes an
evidence item of an action (attached, withdrawn, erased, published, unpublished), keyed
by the blob's hash first, holding the item as it stood after that entry, the leaf of the
entry that attached it (`attached`) and, while it is published, the leaf of the entry
that published it (`published`, NULL otherwise). "Which actions name this blob, and is
it erased?" is then one seek on the hash, an export lists each action's items as of a
cut from the same rows, and "what is published?" is a walk of the rows that published
something (a partial index) keeping those that no later row of their item follows,
without replaying anything. Both leaves are there so a public page can prove the
attaching and the publishing entry in the Merkle log.

The tables' layout and what their JSON holds are versioned (`FORMAT`, a row of the
state table): tables written by another version are dropped, made again and rebuilt
from the log when a projector opens them, so a new column or table never sits
half-filled.

Rows are only ever added beyond the high-water mark, and a batch of rows commits in
the same transaction as the mark's move (a compare-and-set on the old mark), so
concurrent projectors, API workers and crashes can neither duplicate nor lose a row,
and rows below the mark never change.

Longer than 500 lines because every statement on these tables is here, in both
dialects: their layout, the compare-and-set that keeps them consistent and each query
that reads them, so a change to a table's shape is made beside everything relying on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from projections.port import Cursor, SqlDatabase

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATE_KEY = "log"
#: The projection's tables, each named ``<prefix>_<table>``. They are derived from the log
#: (rebuilt on demand, see `Projector.rebuild`), so backups leave them out.
TABLES = ("state", "aggregates", "changes", "snapshots", "evidence")
DEFAULT_PREFIX = "asof"
FORMAT_KEY = "format"
#: Bumped whenever the tables or their JSON change shape (2: the evidence table; 3: its
#: `attached` and `published` leaves and the items' publication; 4: the formal responses
#: in the plan's and the actions' snapshots; 5: the ledger's words in the plan's; 6: each
#: action's lead history in its snapshot).
FORMAT = 6
#: The tables `create` drops when it finds another format: all but the state table.
DERIVED = tuple(table for table in TABLES if table != "state")


def table_names(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The names of one table set (tests and benchmarks build others beside "asof")."""
    return [f"{prefix}_{table}" for table in TABLES]


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch (exact: timedelta arithmetic, no floats)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class Change:
    """One entry's row: which aggregate, where in the log, when, which version, and
    the leaf of the snapshot that shows the aggregate after it (None: nothing shown)."""

    agg: int
    leaf: int
    ts: int
    version: int
    snapshot: int | None


@dataclass(frozen=True)
class NewAggregate:
    agg: int
    aggregate_id: str
    kind: str
    name: str


@dataclass(frozen=True)
class EvidenceRow:
    """An evidence item of an action as it stood after the entry at `leaf`: the leaf of
    the entry that attached it, and of the one that published it while it is published."""

    sha256: str
    agg: int
    leaf: int
    ts: int
    state: str
    attached: int | None = None
    published: int | None = None


@dataclass(frozen=True)
class Batch:
    """Everything one catch-up step adds, committed together with the mark's move."""

    start: int
    end: int
    aggregates: list[NewAggregate]
    changes: list[Change]
    snapshots: list[tuple[int, int, str]]
    evidence: list[EvidenceRow] = field(default_factory=list)


@dataclass(frozen=True)
class BlobUse:
    """One action naming a blob: its latest evidence row, and the action's latest
    snapshot (None if it has none)."""

    action_id: str
    evidence: str
    action: str | None


@dataclass(frozen=True)
class PublishedRow:
    """A published evidence item's latest row (`ProjectionTables.published_items`)."""

    sha256: str
    action_id: str
    leaf: int
    attached: int | None
    published: int
    evidence: str  # the item's JSON (projections.status.evidence_snapshot)
    action: str | None  # the action's latest snapshot inside the cut


@dataclass(frozen=True)
class AtCut:
    """An aggregate as it stood inside a cut."""

    aggregate_id: str
    kind: str
    name: str
    leaf: int
    ts: int
    version: int
    state: str | None


class ProjectionTables:
    """SQL for SQLite and PostgreSQL, in the log's database (`projections.port`);
    `prefix` names the table set (tests build a second set from scratch beside the
    incremental one and compare them)."""

    def __init__(self, database: SqlDatabase, *, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix.isidentifier():
            raise ValueError(f"table prefix must be an identifier: {prefix!r}")
        self.database = database
        self.postgres = database.sql_dialect == "postgresql"
        self.prefix = prefix
        self.p = "%s" if self.postgres else "?"

    def _sql(self, statement: str) -> str:
        return statement.replace("{p}", self.prefix).replace("?", self.p)

    def reading(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads that need no multi-statement snapshot."""
        return self.database.reading()

    def schema(self) -> list[str]:
        """The statements that make the tables: the state table's first, its mark's row last."""
        # WITHOUT ROWID on SQLite: the table *is* its primary-key b-tree (no second copy).
        tail = ")" if self.postgres else ") WITHOUT ROWID"
        statements = [
            "CREATE TABLE IF NOT EXISTS {p}_state "
            "(key TEXT PRIMARY KEY, high_water BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {p}_aggregates (agg BIGINT PRIMARY KEY, "
            "aggregate_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {p}_changes (agg BIGINT NOT NULL, leaf BIGINT NOT NULL, "
            "ts BIGINT NOT NULL, version BIGINT NOT NULL, snapshot BIGINT, "
            "PRIMARY KEY (agg, leaf)" + tail,
            "CREATE INDEX IF NOT EXISTS {p}_changes_by_time ON {p}_changes (agg, ts, leaf)",
            "CREATE TABLE IF NOT EXISTS {p}_snapshots (agg BIGINT NOT NULL, leaf BIGINT NOT NULL, "
            "state TEXT NOT NULL, PRIMARY KEY (agg, leaf)" + tail,
            "CREATE TABLE IF NOT EXISTS {p}_evidence (sha256 TEXT NOT NULL, agg BIGINT NOT NULL, "
            "leaf BIGINT NOT NULL, ts BIGINT NOT NULL, state TEXT NOT NULL, attached BIGINT, "
            "published BIGINT, PRIMARY KEY (sha256, agg, leaf)" + tail,
            # Only the rows that published something: what `published_items` walks.
            "CREATE INDEX IF NOT EXISTS {p}_evidence_published ON {p}_evidence (agg, leaf) "
            "WHERE published IS NOT NULL",
            "INSERT INTO {p}_state VALUES ('" + STATE_KEY + "', 0) ON CONFLICT DO NOTHING",
        ]
        return [self._sql(s) for s in statements]

    def create(self) -> None:
        """Create the tables if absent; if another version of the code wrote them
        (`FORMAT`), drop them and make them again, empty (mark 0), so a table whose
        columns changed gets its new ones. Two processes starting at once on PostgreSQL
        may race on CREATE TABLE IF NOT EXISTS (a unique violation in the catalogue):
        the loser retries once, by which time the tables exist."""
        statements = self.schema()
        state_table, mark_row = statements[0], statements[-1]
        for attempt in range(2):
            try:
                with self.database.transaction() as cursor:
                    cursor.execute(state_table)
                    cursor.execute(mark_row)
                    current = self._format_is_current(cursor)
                    if not current:
                        for table in DERIVED:
                            cursor.execute(self._sql(f"DROP TABLE IF EXISTS {{p}}_{table}"))
                    for statement in statements[1:-1]:
                        cursor.execute(statement)
                    if not current:
                        self._reset(cursor)
                        self._write_format(cursor)
                return
            except Exception:
                if attempt:
                    raise

    def _format_is_current(self, cursor: Cursor) -> bool:
        # The mark's row is locked first (as `commit` does), so no batch of the old
        # format can commit between the check and the reset.
        cursor.execute(
            self._sql("UPDATE {p}_state SET high_water=high_water WHERE key=?"), (STATE_KEY,)
        )
        cursor.execute(self._sql("SELECT high_water FROM {p}_state WHERE key=?"), (FORMAT_KEY,))
        row = cursor.fetchone()
        return row is not None and int(row["high_water"]) == FORMAT

    def _write_format(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {p}_state WHERE key=?"), (FORMAT_KEY,))
        cursor.execute(self._sql("INSERT INTO {p}_state VALUES (?, ?)"), (FORMAT_KEY, FORMAT))

    def high_water(self) -> int:
        with self.reading() as cursor:
            cursor.execute(self._sql("SELECT high_water FROM {p}_state WHERE key=?"), (STATE_KEY,))
            row = cursor.fetchone()
        return 0 if row is None else int(row["high_water"])

    def aggregates(self) -> dict[str, tuple[int, str, str]]:
        """aggregate id -> (agg number, kind, name)."""
        with self.reading() as cursor:
            cursor.execute(self._sql("SELECT agg, aggregate_id, kind, name FROM {p}_aggregates"))
            return {
                str(r["aggregate_id"]): (int(r["agg"]), str(r["kind"]), str(r["name"]))
                for r in cursor.fetchall()
            }

    def aggregate_number(self, aggregate_id: str) -> int | None:
        with self.reading() as cursor:
            cursor.execute(
                self._sql("SELECT agg FROM {p}_aggregates WHERE aggregate_id=?"), (aggregate_id,)
            )
            row = cursor.fetchone()
        return None if row is None else int(row["agg"])

    def latest_snapshot(self, agg: int) -> tuple[int, str] | None:
        """(leaf, JSON) of the snapshot the aggregate's latest change points to."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT s.leaf, s.state FROM {p}_snapshots s WHERE s.agg=? "
                    "ORDER BY s.leaf DESC LIMIT 1"
                ),
                (agg,),
            )
            row = cursor.fetchone()
        return None if row is None else (int(row["leaf"]), str(row["state"]))

    def commit(self, batch: Batch) -> bool:
        """Add a batch's rows and move the mark from batch.start to batch.end, atomically.

        False (and nothing written) if the mark is no longer batch.start: another
        projector got there first. The compare-and-set is the first statement, so on
        SQLite it takes the write lock before anything is read, and on PostgreSQL a
        concurrent mover blocks here until the other commits, then sees the new mark."""
        with self.database.transaction() as cursor:
            cursor.execute(
                self._sql("UPDATE {p}_state SET high_water=? WHERE key=? AND high_water=?"),
                (batch.end, STATE_KEY, batch.start),
            )
            if cursor.rowcount != 1:
                # Nothing was written; leaving the block commits an empty transaction.
                return False
            if batch.aggregates:
                cursor.executemany(
                    self._sql("INSERT INTO {p}_aggregates VALUES (?, ?, ?, ?)"),
                    [(a.agg, a.aggregate_id, a.kind, a.name) for a in batch.aggregates],
                )
            if batch.changes:
                cursor.executemany(
                    self._sql("INSERT INTO {p}_changes VALUES (?, ?, ?, ?, ?)"),
                    [(c.agg, c.leaf, c.ts, c.version, c.snapshot) for c in batch.changes],
                )
            if batch.snapshots:
                cursor.executemany(
                    self._sql("INSERT INTO {p}_snapshots VALUES (?, ?, ?)"), batch.snapshots
                )
            if batch.evidence:
                cursor.executemany(
                    self._sql(
                        "INSERT INTO {p}_evidence (sha256, agg, leaf, ts, state, attached, "
                        "published) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        (e.sha256, e.agg, e.leaf, e.ts, e.state, e.attached, e.published)
                        for e in batch.evidence
                    ],
                )
        return True

    def reset(self) -> None:
        """Forget everything (for a rebuild from scratch), in one transaction."""
        with self.database.transaction() as cursor:
            self._reset(cursor)

    def _reset(self, cursor: Cursor) -> None:
        # The mark moves first: like `commit`'s compare-and-set, it waits for a batch
        # being committed, so every row that batch adds is deleted below.
        cursor.execute(self._sql("UPDATE {p}_state SET high_water=0 WHERE key=?"), (STATE_KEY,))
        for table in ("changes", "snapshots", "aggregates", "evidence"):
            cursor.execute(self._sql(f"DELETE FROM {{p}}_{table}"))

    # -- queries -------------------------------------------------------------------------

    def at_cut(
        self, *, bound: int, ts: int | None = None, kinds: Sequence[str] = ()
    ) -> list[AtCut]:
        """Every aggregate (of `kinds`, or all) as it stood after its last entry with
        leaf < bound (and, with `ts`, signed at or before ts): one seek per aggregate."""
        if ts is None:
            inner = "c2.agg = a.agg AND c2.leaf < ? ORDER BY c2.leaf DESC LIMIT 1"
            params: list[Any] = [bound]
        else:
            inner = (
                "c2.agg = a.agg AND c2.ts <= ? AND c2.leaf < ? "
                "ORDER BY c2.ts DESC, c2.leaf DESC LIMIT 1"
            )
            params = [ts, bound]
        where = "a.agg < ?"
        params.append(bound)
        if kinds:
            where += " AND a.kind IN (" + ", ".join("?" for _ in kinds) + ")"
            params.extend(kinds)
        # The cut is materialised first so that the aggregates (~200) are the outer loop:
        # as one plain join, SQLite's planner scanned every change row instead (52 ms
        # against 0.5 ms at 100k entries). MATERIALIZED is SQLite >= 3.35 and PG >= 12.
        statement = (
            "WITH cut AS MATERIALIZED (SELECT a.agg, a.aggregate_id, a.kind, a.name, "
            f"(SELECT c2.leaf FROM {{p}}_changes c2 WHERE {inner}) AS leaf "
            f"FROM {{p}}_aggregates a WHERE {where}) "
            "SELECT cut.aggregate_id, cut.kind, cut.name, c.leaf, c.ts, c.version, s.state "
            "FROM cut JOIN {p}_changes c ON c.agg = cut.agg AND c.leaf = cut.leaf "
            "LEFT JOIN {p}_snapshots s ON s.agg = c.agg AND s.leaf = c.snapshot"
        )
        with self.reading() as cursor:
            cursor.execute(self._sql(statement), params)
            rows = cursor.fetchall()
        return [
            AtCut(
                str(r["aggregate_id"]),
                str(r["kind"]),
                str(r["name"]),
                int(r["leaf"]),
                int(r["ts"]),
                int(r["version"]),
                None if r["state"] is None else str(r["state"]),
            )
            for r in rows
        ]

    def latest_of(
        self,
        aggregate_ids: Sequence[str],
        *,
        bound: int,
        ts: int | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, int, int, str | None]]:
        """What a timeline shows of these aggregates, in one statement however many are
        given: (aggregate id, leaf, version, snapshot JSON after it), newest first, of the
        latest `limit` of all their entries in the cut (all if None) and of each one's
        newest there (its state at the cut; its version, how many it holds). Each is
        range-read from that newest (a cut is a prefix of each history) down to a floor
        that cuts off none of the latest `limit`: the higher of any one's `limit`-th newest
        leaf (tight when one has most entries) and, if those with j = ceil(limit / n) or
        more hold `limit` between them, their lowest j-th newest (tight when even)."""
        if not aggregate_ids:
            return []
        if limit is not None and limit < 1:
            raise ValueError("limit must be 1 or more (the newest entry is always read)")
        where = "c.agg = a.agg AND c.leaf < ?" + ("" if ts is None else " AND c.ts <= ?")
        order = "c.leaf DESC" if ts is None else "c.ts DESC, c.leaf DESC"  # (agg, ts, leaf)
        cut_params: list[Any] = [bound] if ts is None else [bound, ts]
        nth = f"(SELECT c.leaf FROM {{p}}_changes c WHERE {where} ORDER BY {order} LIMIT 1"
        columns, head = f"{nth}) AS newest", [*cut_params]
        floors, above, tail = "", "", []
        if limit is not None:
            spread = -(-limit // len(aggregate_ids))  # j
            columns += f", {nth} OFFSET ?) AS spread, {nth} OFFSET ?) AS deepest"
            head += [*cut_params, spread - 1, *cut_params, limit - 1]
            floors = (
                ", floors AS MATERIALIZED (SELECT CASE WHEN count(spread) * ? >= ? THEN "
                "min(spread) ELSE 0 END AS even, coalesce(max(deepest), 0) AS skewed FROM cut)"
            )
            above = (
                " AND c.leaf >= (SELECT CASE WHEN even > skewed THEN even ELSE skewed END "
                "FROM floors) ORDER BY c.leaf DESC LIMIT ?"
            )
            tail = [spread, limit, limit]
        ids = ", ".join("?" for _ in aggregate_ids)
        # Materialised, as in `at_cut`: the aggregates are the outer loop of every seek.
        statement = (
            f"WITH cut AS MATERIALIZED (SELECT a.agg, a.aggregate_id, {columns} "
            f"FROM {{p}}_aggregates a WHERE a.aggregate_id IN ({ids})){floors}, "
            "shown AS MATERIALIZED (SELECT c.agg, c.leaf FROM cut JOIN {p}_changes c "
            f"ON c.agg = cut.agg AND c.leaf <= cut.newest{above}), "
            "picked AS (SELECT agg, leaf FROM shown UNION "
            "SELECT agg, newest FROM cut WHERE newest IS NOT NULL) "
            "SELECT cut.aggregate_id, c.leaf, c.version, s.state FROM picked "
            "JOIN cut ON cut.agg = picked.agg "
            "JOIN {p}_changes c ON c.agg = picked.agg AND c.leaf = picked.leaf "
            "LEFT JOIN {p}_snapshots s ON s.agg = c.agg AND s.leaf = c.snapshot "
            "ORDER BY c.leaf DESC"
        )
        with self.reading() as cursor:
            cursor.execute(self._sql(statement), [*head, *aggregate_ids, *tail])
            return [
                (
                    str(r["aggregate_id"]),
                    int(r["leaf"]),
                    int(r["version"]),
                    None if r["state"] is None else str(r["state"]),
                )
                for r in cursor.fetchall()
            ]

    def leaves_of(self, agg: int, *, bound: int) -> dict[int, int]:
        """version -> leaf for every entry of one aggregate below `bound`."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql("SELECT version, leaf FROM {p}_changes WHERE agg=? AND leaf < ?"),
                (agg, bound),
            )
            return {int(r["version"]): int(r["leaf"]) for r in cursor.fetchall()}

    def changes_between(
        self, *, after_ts: int, until_ts: int, bound: int, kind: str
    ) -> list[tuple[str, str, int, int]]:
        """(aggregate id, name, leaf, version) of every entry of `kind` aggregates signed
        in (after_ts, until_ts], in log order: a range scan per aggregate on (agg, ts)."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT a.aggregate_id, a.name, c.leaf, c.version FROM {p}_aggregates a "
                    "JOIN {p}_changes c ON c.agg = a.agg AND c.ts > ? AND c.ts <= ? "
                    "AND c.leaf < ? WHERE a.kind = ? ORDER BY c.leaf"
                ),
                (after_ts, until_ts, bound, kind),
            )
            return [
                (str(r["aggregate_id"]), str(r["name"]), int(r["leaf"]), int(r["version"]))
                for r in cursor.fetchall()
            ]

    def evidence_uses(self, sha256: str, *, bound: int) -> list[BlobUse]:
        """Every action that names the blob below `bound`, with its latest evidence row
        and its latest snapshot: one seek on the hash, then one per action naming it."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT e.agg, a.name, e.state, (SELECT s.state FROM {p}_snapshots s "
                    "WHERE s.agg = e.agg AND s.leaf < ? ORDER BY s.leaf DESC LIMIT 1) AS action "
                    "FROM {p}_evidence e JOIN {p}_aggregates a ON a.agg = e.agg "
                    "WHERE e.sha256 = ? AND e.leaf < ? ORDER BY e.agg, e.leaf"
                ),
                (bound, sha256, bound),
            )
            rows = cursor.fetchall()
        latest: dict[int, BlobUse] = {}
        for r in rows:  # in leaf order per action: the last one wins
            action = None if r["action"] is None else str(r["action"])
            latest[int(r["agg"])] = BlobUse(str(r["name"]), str(r["state"]), action)
        return list(latest.values())

    def item_leaves(self, sha256: str, agg: int, *, bound: int) -> tuple[int | None, int | None]:
        """(attached, published) of an evidence item's latest row below `bound`: one seek on
        the primary key; (None, None) if it has none."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT attached, published FROM {p}_evidence WHERE sha256=? AND agg=? "
                    "AND leaf < ? ORDER BY leaf DESC LIMIT 1"
                ),
                (sha256, agg, bound),
            )
            row = cursor.fetchone()
        if row is None:
            return None, None
        return _int_or_none(row["attached"]), _int_or_none(row["published"])

    def published_items(self, *, bound: int, agg: int | None = None) -> list[PublishedRow]:
        """Every evidence item published inside the cut (entries with leaf < bound), of
        one action (`agg`) or of all, in the order the actions were added and then of
        their publication: the rows that published something (a partial index) that no
        later row of their item follows (any later entry naming an item ends its
        publication, or carries it forward), each with the action's snapshot."""
        where = "" if agg is None else " AND e.agg = ?"
        statement = (
            "SELECT e.sha256, a.name, e.leaf, e.attached, e.published, e.state, "
            "(SELECT s.state FROM {p}_snapshots s WHERE s.agg = e.agg AND s.leaf < ? "
            "ORDER BY s.leaf DESC LIMIT 1) AS action "
            "FROM {p}_evidence e JOIN {p}_aggregates a ON a.agg = e.agg "
            f"WHERE e.published IS NOT NULL AND e.leaf < ?{where} "
            "AND NOT EXISTS (SELECT 1 FROM {p}_evidence later WHERE later.sha256 = e.sha256 "
            "AND later.agg = e.agg AND later.leaf > e.leaf AND later.leaf < ?) "
            "ORDER BY e.agg, e.published, e.sha256"
        )
        params: list[Any] = [bound, bound, *([] if agg is None else [agg]), bound]
        with self.reading() as cursor:
            cursor.execute(self._sql(statement), params)
            rows = cursor.fetchall()
        return [
            PublishedRow(
                str(r["sha256"]),
                str(r["name"]),
                int(r["leaf"]),
                _int_or_none(r["attached"]),
                int(r["published"]),
                str(r["state"]),
                None if r["action"] is None else str(r["action"]),
            )
            for r in rows
        ]

    def is_published(self, sha256: str, *, bound: int) -> bool:
        """Whether some action has the blob published inside the cut: one seek on the hash."""
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT 1 AS yes FROM {p}_evidence e WHERE e.sha256 = ? AND e.leaf < ? "
                    "AND e.published IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {p}_evidence "
                    "later WHERE later.sha256 = e.sha256 AND later.agg = e.agg "
                    "AND later.leaf > e.leaf AND later.leaf < ?) LIMIT 1"
                ),
                (sha256, bound, bound),
            )
            return cursor.fetchone() is not None

    def evidence_at(self, *, bound: int, ts: int | None = None) -> dict[str, list[str]]:
        """action id -> the JSON of each of its evidence items as it stood inside the cut
        (entries with leaf < bound, signed at or before ts): the latest row of each."""
        where = "e.leaf < ?" + ("" if ts is None else " AND e.ts <= ?")
        with self.reading() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT a.name, e.sha256, e.state FROM {p}_evidence e "
                    "JOIN {p}_aggregates a ON a.agg = e.agg "
                    f"WHERE {where} ORDER BY e.agg, e.sha256, e.leaf"
                ),
                (bound,) if ts is None else (bound, ts),
            )
            rows = cursor.fetchall()
        items: dict[tuple[str, str], str] = {}
        for r in rows:  # in leaf order per item: the last one wins
            items[(str(r["name"]), str(r["sha256"]))] = str(r["state"])
        out: dict[str, list[str]] = {}
        for (name, _), state in items.items():
            out.setdefault(name, []).append(state)
        return out

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row, in key order (to compare a rebuild with the incremental tables)."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.reading() as cursor:
            for table, order in (
                ("aggregates", "agg"),
                ("changes", "agg, leaf"),
                ("snapshots", "agg, leaf"),
                ("evidence", "sha256, agg, leaf"),
                ("state", "key"),
            ):
                cursor.execute(self._sql(f"SELECT * FROM {{p}}_{table} ORDER BY {order}"))
                out[table] = [tuple(dict(r).values()) for r in cursor.fetchall()]
        return out

    def sizes(self) -> dict[str, int]:
        """Row counts (the benchmark reports these beside the bytes on disk)."""
        counts: dict[str, int] = {}
        with self.reading() as cursor:
            for table in ("aggregates", "changes", "snapshots", "evidence"):
                cursor.execute(self._sql(f"SELECT count(*) AS n FROM {{p}}_{table}"))
                counts[table] = int(cast(Any, cursor.fetchone())["n"])
        return counts


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
