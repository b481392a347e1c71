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

Why the two bounds differ: the forward bound is how far ahead of the moment anyone may
date an entry, and so how far one signer can push the earliest timestamp everybody's
next entry on that aggregate must carry (signers date max(now, that floor), which the
ledger always accepts); it is kept to what honest clocks disagree by. The backward bound
is how long a body prepared for signing stays recordable (the web page, and off-page:
download, sign on one's own machine, paste back); an entry dated up to it in the past
still can never go before its aggregate's previous entry or a witnessed checkpoint, so
it reorders nothing and blocks nobody.
"""

from __future__ import annotations

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
class LedgerConfig:
    home: Path
    database_url: str | None = None
    max_forward_skew: timedelta = DEFAULT_FORWARD_SKEW
    max_backward_skew: timedelta = DEFAULT_BACKWARD_SKEW
    #: Within this long of the log growing, the server signs a checkpoint; zero: never.
    checkpoint_interval: timedelta = DEFAULT_CHECKPOINT_INTERVAL
    #: The witnesses asked to cosign each regular checkpoint (INQUIRY_LEDGER_WITNESSES).
    witnesses: tuple[ConfiguredWitness, ...] = ()

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
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
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
            # How long a request waits for a pooled connection. While PostgreSQL is down
            # every request waits this long and then gets 503 (api/unavailable.py): short
            # enough to fail fast, long enough for a busy pool to free a connection.
            POSTGRES_CONNECT_TIMEOUT="3",
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
