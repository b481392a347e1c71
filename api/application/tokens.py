"""Bearer tokens for the HTTP API: stored only as hashes, with expiry and revocation.

A token is ``il_<id>_<secret>``: the id finds the row, the secret is checked against its
SHA-256 in constant time. The secret is 32 random bytes, so a fast hash is right here
(nothing to brute-force, unlike a password). A token says who is calling; it cannot write
anything by itself: every write is an entry signed by the caller's own private key.

A token found good is remembered by this process for `CACHE_TTL` seconds (keyed by the
SHA-256 of the whole token, never the token itself), because the row read was a database
round trip on every request, a large part of an append's cost outside the ledger (issue 18).
So a revocation takes effect within CACHE_TTL seconds, not at once: in every other process
(`tokens revoke`, the other workers and servers) the token may still be accepted for that
long. This process forgets the token as soon as its own TokenStore revokes it. Expiry is
still checked on every request, and a refusal is never remembered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from ledger.storage import LedgerTables, TableSpec

#: The token hashes (backed up, so restored tokens keep working).
API_TOKENS = TableSpec(
    "api_tokens",
    (
        ("token_id", "text"),
        ("user_id", "text"),
        ("secret_hash", "text"),
        ("created_at", "text"),
        ("expires_at", "text"),
        ("revoked_at", "text"),
    ),
    "token_id",
    (
        """CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT)""",
    ),
)


class TokenError(ValueError):
    """Missing, malformed, unknown, expired or revoked token."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


#: Seconds a token found good is taken as good without reading its row again: the longest
#: a revocation made by another process can go unnoticed here.
CACHE_TTL = 2.0
#: Tokens remembered at most (per database); past it the stale ones are dropped, or all.
CACHE_MAX = 4096


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class _Checked:
    """A token found good: whose it is, until when, and when its row was read."""

    token_id: str
    user_id: str
    expires_at: datetime
    read_at: float  # the cache clock's seconds


class _TokenCache:
    """Tokens recently found good, by the SHA-256 of the whole token. One per database
    (its tables) in this process, shared by every TokenStore over them, so a revocation
    through any of them is seen by all at once."""

    def __init__(self) -> None:
        self._found: dict[str, _Checked] = {}
        self._lock = threading.Lock()

    def get(self, key: str, now: float, ttl: float) -> _Checked | None:
        found = self._found.get(key)
        return found if found is not None and 0 <= now - found.read_at < ttl else None

    def put(self, key: str, checked: _Checked, ttl: float) -> None:
        with self._lock:
            if len(self._found) >= CACHE_MAX:
                now = checked.read_at
                self._found = {k: v for k, v in self._found.items() if 0 <= now - v.read_at < ttl}
                if len(self._found) >= CACHE_MAX:
                    self._found.clear()
            self._found[key] = checked

    def forget(self, token_id: str) -> None:
        with self._lock:
            self._found = {k: v for k, v in self._found.items() if v.token_id != token_id}


_caches: WeakKeyDictionary[LedgerTables, _TokenCache] = WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(tables: LedgerTables) -> _TokenCache:
    with _caches_lock:
        cache = _caches.get(tables)
        if cache is None:
            cache = _caches[tables] = _TokenCache()
        return cache


class TokenStore:
    def __init__(
        self,
        tables: LedgerTables,
        *,
        cache_ttl: float = CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`cache_ttl` (0: off) and `monotonic`, the cache's clock, are for tests."""
        self.tables = tables
        self.cache_ttl = cache_ttl
        self._monotonic = monotonic
        self._cache = _cache_of(tables)
        tables.create_tables([API_TOKENS])  # safe when several processes start at once

    def create(self, user_id: str, lifetime: timedelta, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        token_id = secrets.token_hex(8)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.tables.sql("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)"),
                (token_id, user_id, _hash(secret), now.isoformat(), (now + lifetime).isoformat()),
            )
        return f"il_{token_id}_{secret}"

    def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.tables.sql("SELECT revoked_at FROM api_tokens WHERE token_id=?"), (token_id,)
            )
            row = cursor.fetchone()
            if row is None or row["revoked_at"] is not None:
                return False
            cursor.execute(
                self.tables.sql("UPDATE api_tokens SET revoked_at=? WHERE token_id=?"),
                (now.isoformat(), token_id),
            )
        self._cache.forget(token_id)  # this process: at once (others: within their TTL)
        return True

    def list(self) -> list[TokenInfo]:
        with self.tables.reading() as cursor:
            cursor.execute("SELECT * FROM api_tokens ORDER BY created_at")
            return [_info(row) for row in cursor.fetchall()]

    def authenticate(self, token: str, now: datetime | None = None) -> str:
        """The user id a token stands for; TokenError (never saying which part failed
        beyond what helps an honest client) otherwise. A token found good within the
        last `cache_ttl` seconds is not read again (see the module docstring)."""
        now = now or datetime.now(UTC)
        key, read_at = _hash(token), self._monotonic()
        checked = self._cache.get(key, read_at, self.cache_ttl)
        if checked is not None:
            if checked.expires_at <= now:
                raise TokenError("token expired")
            return checked.user_id
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "il" or not parts[1] or not parts[2]:
            raise TokenError("malformed token")
        with self.tables.reading() as cursor:
            cursor.execute(
                self.tables.sql("SELECT * FROM api_tokens WHERE token_id=?"), (parts[1],)
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(str(row["secret_hash"]), _hash(parts[2])):
            raise TokenError("unknown token")
        info = _info(row)
        if info.revoked_at is not None:
            raise TokenError("token revoked")
        if info.expires_at <= now:
            raise TokenError("token expired")
        if self.cache_ttl > 0:
            checked = _Checked(info.token_id, info.user_id, info.expires_at, read_at)
            self._cache.put(key, checked, self.cache_ttl)
        return info.user_id


def _info(row: Any) -> TokenInfo:
    revoked = row["revoked_at"]
    return TokenInfo(
        str(row["token_id"]),
        str(row["user_id"]),
        datetime.fromisoformat(row["created_at"]),
        datetime.fromisoformat(row["expires_at"]),
        datetime.fromisoformat(revoked) if revoked else None,
    )
