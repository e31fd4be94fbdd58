"""The console's sign-in: an access key and its secret checked against the same keys SigV4 uses, exchanged for
a session in a cookie (HttpOnly, SameSite=Strict, scoped to /console) with its own token for forms. The
session acts as the key's principal: every page and action is an AWS operation authorized as that caller.

Sessions are rows of lambkin's database, so every node of a cluster knows them (a load balancer may send a
browser's next request anywhere) and a restart signs nobody out. A row holds the SHA-256 of the cookie's
token, not the token. The key is looked up again on every request: a key deleted or made inactive ends its
sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.protocol.service import Caller
from lambkin.protocol.sigv4 import KeyLookup
from lambkin.store import Connection, Migration, Store

COOKIE = "lambkin_console"
LIFETIME_S = 12 * 3600
MAX_SESSIONS_PER_KEY = 100  # signing in again past this ends the key's oldest session

MIGRATIONS = [
    Migration(
        "console_sessions",
        1,
        """
        CREATE TABLE console_sessions (
            token_sha256 TEXT PRIMARY KEY,
            access_key_id TEXT NOT NULL,
            form_token TEXT NOT NULL,
            expires REAL NOT NULL
        )
        """,
    ),
    Migration(
        "console_sessions",
        2,
        "CREATE INDEX console_sessions_by_key ON console_sessions (access_key_id, expires)",
    ),
]


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    access_key_id: str
    caller: Caller
    form_token: str  # every form that changes something carries it (a cookie alone is not enough)
    expires: float


class ConsoleSessions:
    """Sign-in, the session a cookie names, and sign-out, on the shared database."""

    def __init__(self, keys: KeyLookup, db: Store, clock: Clock = SYSTEM_CLOCK) -> None:
        self.keys = keys
        self.db = db
        self.clock = clock

    async def sign_in(self, access_key_id: str, secret: str) -> Session | None:
        """A new session for a key whose secret is `secret` (a session token's keys are refused: they
        expire on their own terms); None if the key is unknown or the secret wrong."""
        key = self.keys(access_key_id, None) if access_key_id else None
        if key is None or not hmac.compare_digest(key.secret.encode(), secret.encode()):
            return None
        now = self.clock.now()
        session = Session(
            token=secrets.token_urlsafe(32),
            access_key_id=access_key_id,
            caller=key.caller,
            form_token=secrets.token_urlsafe(24),
            expires=now + LIFETIME_S,
        )

        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM console_sessions WHERE expires < ?", (now,))
            kept = conn.execute(
                "SELECT token_sha256 FROM console_sessions WHERE access_key_id = ? ORDER BY expires DESC",
                (access_key_id,),
            ).fetchall()
            for (oldest,) in kept[MAX_SESSIONS_PER_KEY - 1 :]:
                conn.execute("DELETE FROM console_sessions WHERE token_sha256 = ?", (oldest,))
            conn.execute(
                "INSERT INTO console_sessions (token_sha256, access_key_id, form_token, expires)"
                " VALUES (?, ?, ?, ?)",
                (_digest(session.token), access_key_id, session.form_token, session.expires),
            )

        await self.db.run(write)
        return session

    async def find(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, acting as its key's principal now; None when there is
        none, it expired, or its key is gone."""
        if not token:
            return None

        def read(conn: Connection) -> tuple[str, str, float] | None:
            row = conn.execute(
                "SELECT access_key_id, form_token, expires FROM console_sessions WHERE token_sha256 = ?",
                (_digest(token),),
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

        found = await self.db.run(read)
        if found is None or found[2] < self.clock.now():
            return None
        access_key_id, form_token, expires = found
        key = self.keys(access_key_id, None)
        if key is None:
            return None
        return Session(token, access_key_id, key.caller, form_token, expires)

    async def sign_out(self, token: str) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "DELETE FROM console_sessions WHERE token_sha256 = ?", (_digest(token),)
            )
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
