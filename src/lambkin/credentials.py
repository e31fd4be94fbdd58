"""The server's access key pair, and the key pairs it derives for functions: who may sign a request."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

FUNCTION_KEY_PREFIX = "LKFN"  # the access key IDs lambkin gives functions (a server's own start with LKIA)


@dataclass(frozen=True)
class Credentials:
    """The server's access key pair: SigV4 for the AWS APIs, basic auth for the registry.

    Functions sign with keys of their own, derived from this secret (nothing to store, stable across
    restarts): `for_function(name)` gives a function its pair, and `secret_for` knows every such pair.
    """

    access_key_id: str
    secret_access_key: str

    def for_function(self, function: str) -> Credentials:
        """The key pair the sandboxes of the function named `function` sign with (AWS_ACCESS_KEY_ID, ...)."""
        digest = self._mac("access-key-id", function)
        key_id = FUNCTION_KEY_PREFIX + base64.b32encode(digest).decode()[:16]
        return Credentials(key_id, self._function_secret(key_id))

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of a key this server issued (its own, or a function's); None for any other key."""
        if hmac.compare_digest(access_key_id.encode(), self.access_key_id.encode()):
            return self.secret_access_key
        if (
            access_key_id.startswith(FUNCTION_KEY_PREFIX)
            and len(access_key_id) == 20
            and self.secret_access_key
        ):
            return self._function_secret(access_key_id)
        return None

    def _function_secret(self, key_id: str) -> str:
        return base64.b64encode(self._mac("secret", key_id)).decode()[:40]

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(
            self.secret_access_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
        ).digest()
