"""The keyring: which secret and principal an access key ID (and session token) names."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from lambkin.credentials import Credentials
from lambkin.identity.directory import Directory
from lambkin.identity.principals import Principal, root
from lambkin.identity.sessions import KEY_PREFIX, SessionSeal

SESSIONS_CACHED = 4096


@dataclass(frozen=True, slots=True)
class Key:
    """A key pair's secret, the principal who signs with it, and when it stops working (temporary keys)."""

    secret: str
    caller: Principal
    expires: datetime | None = None


class Keyring:
    """Every key lambkin knows, a `KeyLookup` for SigV4 verification (protocol/sigv4.py):

    - the server's own pair: the account root;
    - temporary keys (ASIA...) with the session token they were issued with: the assumed role's session,
      until the token's expiry (the verifier refuses it after);
    - IAM users' keys (AKIA...) from the directory, while Active: the user.
    """

    def __init__(self, server: Credentials, account_id: str, directory: Directory | None = None) -> None:
        self.server = server
        self.root: Principal = root(account_id)
        self.directory = directory
        self.sessions = SessionSeal(server.secret_access_key)
        # A function's SDK signs every call with the same session: its key is opened once (the expiry is
        # checked on every request by the verifier, so a cached key never outlives its session).
        self._session_key = lru_cache(maxsize=SESSIONS_CACHED)(self._open_session)

    def __call__(self, access_key_id: str, session_token: str | None) -> Key | None:
        if access_key_id.startswith(KEY_PREFIX):
            return self._session_key(access_key_id, session_token)
        server = self.server
        if server.secret_access_key and hmac.compare_digest(
            access_key_id.encode(), server.access_key_id.encode()
        ):
            return Key(server.secret_access_key, self.root)
        user_key = self.directory.access_key(access_key_id) if self.directory is not None else None
        if user_key is None or not user_key.active:
            return None
        return Key(user_key.secret, user_key.user)

    def _open_session(self, access_key_id: str, session_token: str | None) -> Key | None:
        if not self.server.secret_access_key:
            return None  # without a secret, anyone could seal a token
        session = self.sessions.open(access_key_id, session_token)
        if session is None:
            return None
        return Key(self.sessions.secret(access_key_id), session.principal(), session.expiration)
