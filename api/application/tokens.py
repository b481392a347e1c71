"""Bearer tokens for the HTTP API: stored only as hashes, with expiry and revocation.

A token is ``il_<id>_<secret>``: the id finds the row, the secret is checked against its
SHA-256 in constant time. The secret is 32 random bytes, so a fast hash is right here
(nothing to brute-force, unlike a password). A token says who is calling; it cannot write
anything by itself: every write is an entry signed by the caller's own private key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, tables: LedgerTables) -> None:
        self.tables = tables
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
            return True

    def list(self) -> list[TokenInfo]:
        with self.tables.reading() as cursor:
            cursor.execute("SELECT * FROM api_tokens ORDER BY created_at")
            return [_info(row) for row in cursor.fetchall()]

    def authenticate(self, token: str, now: datetime | None = None) -> str:
        """The user id a token stands for; TokenError (never saying which part failed
        beyond what helps an honest client) otherwise."""
        now = now or datetime.now(UTC)
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
