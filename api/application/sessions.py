"""Browser sessions' store: one row per signed-in browser, kept as hashes.

Why a server-side session rather than the token in a cookie: signing out must end the
session for real (the row is deleted), and the token itself is never stored anywhere
on the server (the tokens table keeps only its hash, this table only the session id's
hash and the token's id). Each lookup re-checks the token row, so revoking or expiring
the token ends every browser session made from it. The cookie and CSRF handling are the
web layer's (api/http/session.py); this is the part that needs no web framework.

The table is declared here (`WEB_SESSIONS`) and left out of backups on purpose: a
restore must not revive logins.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.application.tokens import TokenError, TokenStore
from ledger.storage import Backup, LedgerTables, TableSpec

SESSION_LIFETIME = timedelta(hours=8)

WEB_SESSIONS = TableSpec(
    "web_sessions",
    (
        ("session_hash", "text"),
        ("token_id", "text"),
        ("user_id", "text"),
        ("created_at", "text"),
        ("expires_at", "text"),
    ),
    "session_hash",
    (
        """CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, user_id TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
    ),
    Backup.OMIT,
)


@dataclass(frozen=True)
class Session:
    user_id: str
    token_id: str
    csrf: str
    expires_at: datetime


def _hash(session_id: str) -> str:
    return hashlib.sha256(b"inquiry-ledger/web-session\0" + session_id.encode()).hexdigest()


def csrf_for(session_id: str) -> str:
    """The session's CSRF token: unguessable without the raw session id."""
    return hashlib.sha256(b"inquiry-ledger/csrf\0" + session_id.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class WebSessions:
    def __init__(self, tables: LedgerTables) -> None:
        self.tables = tables
        tables.create_tables([WEB_SESSIONS])  # safe when several processes start at once

    def start(self, tokens: TokenStore, token: str, now: datetime) -> tuple[str, Session]:
        """Check the token and open a session; return (raw session id, session)."""
        user_id = tokens.authenticate(token, now=now)
        token_id = token.split("_", 2)[1]
        token_expires = self._token_expiry(token_id)
        if token_expires is None:
            raise TokenError("unknown token")
        expires = min(now + SESSION_LIFETIME, token_expires)
        session_id = secrets.token_urlsafe(32)
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.tables.sql("DELETE FROM web_sessions WHERE expires_at < ?"), (now.isoformat(),)
            )
            cursor.execute(
                self.tables.sql("INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)"),
                (_hash(session_id), token_id, user_id, now.isoformat(), expires.isoformat()),
            )
        return session_id, Session(user_id, token_id, csrf_for(session_id), expires)

    def find(self, session_id: str, now: datetime) -> Session:
        """The live session for a raw id; TokenError if it is unknown, expired, or its
        token has since been revoked or has expired."""
        with self.tables.reading() as cursor:
            cursor.execute(
                self.tables.sql(
                    "SELECT s.user_id, s.token_id, s.expires_at, t.revoked_at, t.expires_at "
                    "AS token_expires FROM web_sessions s JOIN api_tokens t "
                    "ON t.token_id = s.token_id WHERE s.session_hash = ?"
                ),
                (_hash(session_id),),
            )
            row = cursor.fetchone()
        if row is None:
            raise TokenError("no such session; sign in again")
        expires = datetime.fromisoformat(row["expires_at"])
        if row["revoked_at"] is not None:
            raise TokenError("the token this session was opened with has been revoked")
        if expires <= now or datetime.fromisoformat(row["token_expires"]) <= now:
            raise TokenError("the session has expired; sign in again")
        return Session(str(row["user_id"]), str(row["token_id"]), csrf_for(session_id), expires)

    def end(self, session_id: str) -> None:
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.tables.sql("DELETE FROM web_sessions WHERE session_hash = ?"),
                (_hash(session_id),),
            )

    def _token_expiry(self, token_id: str) -> datetime | None:
        with self.tables.reading() as cursor:
            cursor.execute(
                self.tables.sql("SELECT expires_at FROM api_tokens WHERE token_id = ?"), (token_id,)
            )
            row = cursor.fetchone()
        return None if row is None else datetime.fromisoformat(row["expires_at"])
