"""Where the ledger keeps things, from INQUIRY_LEDGER_* environment variables.

INQUIRY_LEDGER_HOME          folder of the embedded default (SQLite file, evidence, keys);
                             default ./.inquiry-ledger
INQUIRY_LEDGER_DATABASE_URL  postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME selects
                             PostgreSQL; unset means the SQLite file in the home folder
INQUIRY_LEDGER_MAX_FORWARD_SKEW   seconds an entry may be dated ahead of the ledger's
                             clock; default 5
INQUIRY_LEDGER_MAX_BACKWARD_SKEW  seconds an entry may be dated behind it; default 300
INQUIRY_LEDGER_CHECKPOINT_INTERVAL  seconds within which `serve` signs a checkpoint once
                             the log has grown (api/application/checkpoints.py); 0 turns
                             it off; default 10
INQUIRY_LEDGER_WITNESSES     a file naming the witnesses `serve` asks to cosign each
                             regular checkpoint (C2SP tlog-witness), one a line:
                             "URL KEY", URL the witness's submission prefix (http or
                             https, no user or password), KEY its cosigner key as
                             `witness new-key` prints it; blank lines and # comments
                             are skipped; unset: none (api/application/witness_push.py)
INQUIRY_LEDGER_PUBLIC        "on" publishes the tracker: /public pages and JSON with no
                             sign-in, and the log's checkpoint and hash tiles at /tlog/
                             with no token (api/http/public/); "off" (the default) keeps
                             every read behind a token or a session
INQUIRY_LEDGER_DB_STATEMENT_TIMEOUT  PostgreSQL only, like the three below: seconds one
                             statement may run (the server cancels it); a server that
                             sends no answer 2 s beyond it is given up on; default 10
INQUIRY_LEDGER_DB_LOCK_TIMEOUT  seconds a statement waits for a row or table lock, and an
                             append for the append lock; default 10
INQUIRY_LEDGER_DB_POOL_TIMEOUT  seconds a request waits for a pooled connection; default 3
INQUIRY_LEDGER_DB_CONNECT_TIMEOUT  seconds a new connection may take (whole seconds, at
                             least 2: libpq's rule); default 3

Why the two bounds differ: the forward bound is how far ahead of the moment anyone may
date an entry, and so how far one signer can push the earliest timestamp everybody's
next entry on that aggregate must carry (signers date max(now, that floor), which the
ledger always accepts); it is kept to what honest clocks disagree by. The backward bound
is how long a body prepared for signing stays recordable (the web page, and off-page:
download, sign on one's own machine, paste back); an entry dated up to it in the past
still can never go before its aggregate's previous entry or a witnessed checkpoint, so
it reorders nothing and blocks nobody.

Why the database has bounds of its own (issue 18): without them a PostgreSQL server that
hangs (frozen, overloaded, a lock never released) makes a request wait for ever, and
every worker thread with it. The server enforces the statement and lock bounds itself
when it runs; a frozen server enforces nothing, and its kernel still acknowledges every
packet (TCP keepalives notice nothing), so the client gives up on any answer that takes
longer than the statement bound plus `REPLY_GRACE` (ledger/pg_session.py). Each failure
is a psycopg OperationalError, answered 503 with Retry-After (api/http/unavailable.py).
The append lock is held for a whole write by design: its bound (the lock bound) must stay
well above the longest normal batch, else a busy ledger refuses appends it would have
written moments later. Measured on a loopback PostgreSQL: a request of 500 entries (the
most one may carry) held it 0.13 s, a full group of 4,096 entries 0.46 s; 10 s is twenty
times that.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ledger.auditor.cosignature import CosignerKey
from ledger.auditor.note import NoteError

DEFAULT_HOME = ".inquiry-ledger"
DEFAULT_FORWARD_SKEW = timedelta(seconds=5)
DEFAULT_BACKWARD_SKEW = timedelta(minutes=5)
DEFAULT_CHECKPOINT_INTERVAL = timedelta(seconds=10)
#: A request that waits longer than this for PostgreSQL is better answered 503 and retried.
DEFAULT_DB_STATEMENT_TIMEOUT = timedelta(seconds=10)
DEFAULT_DB_LOCK_TIMEOUT = timedelta(seconds=10)
#: Kept at 3 s (the value before issue 18): tests/reliability/test_outages.py's fail-fast
#: bound counts two such waits (a token read, then the data) while the server is down.
DEFAULT_DB_POOL_TIMEOUT = timedelta(seconds=3)
DEFAULT_DB_CONNECT_TIMEOUT = timedelta(seconds=3)
#: How much longer than the statement bound the client waits for an answer before it
#: decides the server is not answering at all: a live server's own cancellation (a clean
#: QueryCanceled, the connection kept) must arrive first.
REPLY_GRACE = timedelta(seconds=2)


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ConfiguredWitness:
    """A witness the server pushes checkpoints to: its add-checkpoint submission prefix
    (no trailing slash) and the cosigner key its cosignatures must verify with."""

    url: str
    key: CosignerKey

    @property
    def add_checkpoint_url(self) -> str:
        return f"{self.url}/add-checkpoint"


@dataclass(frozen=True)
class DbTimeouts:
    """How long anything may wait for PostgreSQL (see the module docstring).

    `statement` and `lock` are sent to the server (statement_timeout, lock_timeout);
    `reply` is how long the client waits for any answer before it closes the
    connection; `pool` bounds the wait for a pooled connection, `connect` a new one."""

    statement: timedelta = DEFAULT_DB_STATEMENT_TIMEOUT
    lock: timedelta = DEFAULT_DB_LOCK_TIMEOUT
    pool: timedelta = DEFAULT_DB_POOL_TIMEOUT
    connect: timedelta = DEFAULT_DB_CONNECT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DbTimeouts:
        return cls(
            statement=_bound(
                env, "INQUIRY_LEDGER_DB_STATEMENT_TIMEOUT", DEFAULT_DB_STATEMENT_TIMEOUT
            ),
            lock=_bound(env, "INQUIRY_LEDGER_DB_LOCK_TIMEOUT", DEFAULT_DB_LOCK_TIMEOUT),
            pool=_bound(env, "INQUIRY_LEDGER_DB_POOL_TIMEOUT", DEFAULT_DB_POOL_TIMEOUT),
            connect=_bound(env, "INQUIRY_LEDGER_DB_CONNECT_TIMEOUT", DEFAULT_DB_CONNECT_TIMEOUT),
        )

    @property
    def reply(self) -> float:
        """Seconds the client waits for an answer to a statement on a pooled connection."""
        return (self.statement + REPLY_GRACE).total_seconds()

    @property
    def lock_reply(self) -> float:
        """Seconds the client waits for the append lock, beyond which the server is gone."""
        return (self.lock + REPLY_GRACE).total_seconds()

    @property
    def connect_seconds(self) -> int:
        """libpq's connect_timeout: whole seconds, at least 2 (psycopg enforces it too)."""
        return max(2, math.ceil(self.connect.total_seconds()))

    def options(self, *, statement: bool = True) -> str:
        """libpq `options`: the server-side bounds, set when the session starts (no round
        trip of its own). Without `statement` for a session whose only wait is for a lock."""
        settings = [f"-c lock_timeout={_millis(self.lock)}"]
        if statement:
            settings.insert(0, f"-c statement_timeout={_millis(self.statement)}")
        return " ".join(settings)


@dataclass(frozen=True)
class LedgerConfig:
    home: Path
    database_url: str | None = None
    max_forward_skew: timedelta = DEFAULT_FORWARD_SKEW
    max_backward_skew: timedelta = DEFAULT_BACKWARD_SKEW
    #: Within this long of the log growing, the server signs a checkpoint; zero: never.
    checkpoint_interval: timedelta = DEFAULT_CHECKPOINT_INTERVAL
    #: The witnesses asked to cosign each regular checkpoint (INQUIRY_LEDGER_WITNESSES).
    witnesses: tuple[ConfiguredWitness, ...] = ()
    #: PostgreSQL's bounds (INQUIRY_LEDGER_DB_*_TIMEOUT); SQLite waits SQLITE_LOCK_TIMEOUT.
    db_timeouts: DbTimeouts = DbTimeouts()
    #: The public tracker and the public tile API (INQUIRY_LEDGER_PUBLIC=on).
    public: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LedgerConfig:
        env = os.environ if environ is None else environ
        home = Path(env.get("INQUIRY_LEDGER_HOME") or DEFAULT_HOME)
        url = env.get("INQUIRY_LEDGER_DATABASE_URL") or None
        config = cls(
            home=home,
            database_url=url,
            max_forward_skew=_seconds(env, "INQUIRY_LEDGER_MAX_FORWARD_SKEW", DEFAULT_FORWARD_SKEW),
            max_backward_skew=_seconds(
                env, "INQUIRY_LEDGER_MAX_BACKWARD_SKEW", DEFAULT_BACKWARD_SKEW
            ),
            checkpoint_interval=_seconds(
                env, "INQUIRY_LEDGER_CHECKPOINT_INTERVAL", DEFAULT_CHECKPOINT_INTERVAL
            ),
            witnesses=_witnesses(env),
            db_timeouts=DbTimeouts.from_env(env),
            public=_on_off(env, "INQUIRY_LEDGER_PUBLIC"),
        )
        config.eventsourcing_env()  # validate early
        return config

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def sqlite_path(self) -> Path:
        return self.home / "ledger.sqlite3"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def log_key_path(self) -> Path:
        return self.keys_dir / "log.key"

    @property
    def log_vkey_path(self) -> Path:
        return self.home / "log.vkey"

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    def user_key_path(self, user_id: str) -> Path:
        return self.keys_dir / "users" / f"{user_id}.key"

    def describe_store(self) -> str:
        """Where the events are, without any password."""
        if self.database_url is None:
            return f"SQLite {self.sqlite_path}"
        parts = urlsplit(self.database_url)
        return f"PostgreSQL {parts.hostname}:{parts.port or 5432}{parts.path}"

    def eventsourcing_env(self) -> dict[str, str]:
        env = {
            # Repository cache with fast-forward: each get() reads only newer events.
            "AGGREGATE_CACHE_MAXSIZE": "10000",
            "AGGREGATE_CACHE_FASTFORWARD": "y",
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
        }
        if self.database_url is None:
            env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
            env["SQLITE_DBNAME"] = str(self.sqlite_path)
            env["SQLITE_LOCK_TIMEOUT"] = "30"
            return env
        parts = urlsplit(self.database_url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError("INQUIRY_LEDGER_DATABASE_URL must start with postgresql://")
        dbname = parts.path.lstrip("/")
        if not parts.hostname or not dbname:
            raise ConfigError("INQUIRY_LEDGER_DATABASE_URL needs a host and a database name")
        bounds = self.db_timeouts
        env.update(
            # eventsourcing's PostgreSQL factory, whose connections also carry the bounds
            # above (ledger/pg_session.py).
            PERSISTENCE_MODULE="ledger.pg_session:BoundedPostgresFactory",
            POSTGRES_DBNAME=unquote(dbname),
            POSTGRES_HOST=parts.hostname,
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
            # The API serves from up to 40 worker threads, each needing a connection for
            # its reads: with eventsourcing's default 5 + 10 a third of them queued for a
            # connection under load (py-spy, tests/api/http/test_load.py). 10 kept + 30 on demand.
            POSTGRES_POOL_SIZE="10",
            POSTGRES_MAX_OVERFLOW="30",
            # How long a request waits for a pooled connection (eventsourcing's name for
            # it; whole seconds here, the exact bound is set on the pool). While PostgreSQL
            # is down every request waits this long and then gets 503 (api/unavailable.py):
            # short enough to fail fast, long enough for a busy pool to free a connection.
            POSTGRES_CONNECT_TIMEOUT=str(math.ceil(bounds.pool.total_seconds())),
            # eventsourcing sets this itself (whole seconds) before locking the events
            # table for an insert; 0 would lift the session's lock_timeout there.
            POSTGRES_LOCK_TIMEOUT=str(max(1, math.ceil(bounds.lock.total_seconds()))),
            # A session left inside a transaction (a client that froze or died between
            # statements, holding row locks) is ended by the server after this long.
            POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="5",
            LEDGER_DB_STATEMENT_TIMEOUT=str(bounds.statement.total_seconds()),
            LEDGER_DB_LOCK_TIMEOUT=str(bounds.lock.total_seconds()),
            LEDGER_DB_POOL_TIMEOUT=str(bounds.pool.total_seconds()),
            LEDGER_DB_CONNECT_TIMEOUT=str(bounds.connect.total_seconds()),
        )
        return env


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A non-negative number of seconds from the environment (unset or empty: `default`)."""
    text = env.get(name) or ""
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= seconds <= 86_400:
        raise ConfigError(f"{name} must be between 0 and 86400 seconds")
    return timedelta(seconds=seconds)


def _bound(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A database bound: like `_seconds`, but 0 is refused (it would mean "wait for ever",
    which is what these bounds exist to prevent)."""
    bound = _seconds(env, name, default)
    if bound <= timedelta(0):
        raise ConfigError(f"{name} must be more than 0 seconds")
    return bound


def _millis(bound: timedelta) -> int:
    return max(1, math.ceil(bound.total_seconds() * 1000))


def _on_off(env: Mapping[str, str], name: str) -> bool:
    """A switch: "on" or "off" (unset or empty: off); anything else is refused, so a
    typo never publishes, or silently fails to publish, a ledger."""
    value = (env.get(name) or "off").strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{name} must be on or off, not {env.get(name)!r}")
    return value == "on"


def _witnesses(env: Mapping[str, str]) -> tuple[ConfiguredWitness, ...]:
    """The witnesses file named by INQUIRY_LEDGER_WITNESSES (unset or empty: none)."""
    name = "INQUIRY_LEDGER_WITNESSES"
    path = env.get(name) or ""
    if not path:
        return ()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8"
        raise ConfigError(f"{name}: cannot read the witnesses file {path}: {reason}") from None
    return parse_witnesses(text, f"{name} {path}")


def parse_witnesses(text: str, where: str = "witnesses file") -> tuple[ConfiguredWitness, ...]:
    """One witness a line, "URL KEY"; a line that is not is refused, naming it."""
    witnesses: list[ConfiguredWitness] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ConfigError(f"{where}, line {number}: write one witness a line as 'URL KEY'")
        url, key_text = fields
        try:
            key = CosignerKey.parse(key_text)
        except NoteError as error:
            raise ConfigError(f"{where}, line {number}: {error}") from None
        witness = ConfiguredWitness(_witness_url(url, f"{where}, line {number}"), key)
        if any(w.key == key for w in witnesses):
            raise ConfigError(f"{where}, line {number}: witness key {key.name} is named twice")
        witnesses.append(witness)
    return tuple(witnesses)


def _witness_url(url: str, where: str) -> str:
    """A witness's submission prefix: http(s), a host, no credentials, query or fragment
    (they would end up in logs, and the spec appends /add-checkpoint to a plain prefix)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        raise ConfigError(f"{where}: {url[:80]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: the witness URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where}: the witness URL may not carry a user or password")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(f"{where}: the witness URL may not carry a query or fragment")
    if port == 0:
        raise ConfigError(f"{where}: the witness URL's port may not be 0")
    return url.rstrip("/")
