"""The keyring: which secret and principal an access key ID (and session token) names."""

from __future__ import annotations

from dataclasses import dataclass

from lambkin.credentials import FUNCTION_KEY_PREFIX, Credentials
from lambkin.identity.principals import Principal, root


@dataclass(frozen=True, slots=True)
class Key:
    """A key pair's secret and the principal who signs with it."""

    secret: str
    caller: Principal


class Keyring:
    """Every key lambkin knows: the server's own pair (the account root) and the pairs it derives for
    functions. A `KeyLookup` for SigV4 verification (protocol/sigv4.py)."""

    def __init__(self, server: Credentials, account_id: str) -> None:
        self.server = server
        self.root: Principal = root(account_id)

    def __call__(self, access_key_id: str, session_token: str | None) -> Key | None:
        secret = self.server.secret_for(access_key_id)
        if secret is None:
            return None
        if access_key_id.startswith(FUNCTION_KEY_PREFIX):
            return Key(secret, self.root)  # functions act as the root until they hold their role's keys
        return Key(secret, self.root)
