"""Temporary credentials: an ASIA key, its secret and a session token that carries the session itself.

Nothing is stored. The token holds the role, the session name, the expiry and the key ID, sealed with an
HMAC under a key derived from the server's secret; the key's secret is derived from the key ID the same
way. Any process that holds the server's secret (after a restart, or another node) verifies a token and
knows the session from it alone, and a token whose seal or key ID does not match is no token at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from lambkin.identity.principals import Principal

KEY_PREFIX = "ASIA"  # AWS's prefix for temporary access key IDs
_TOKEN_PREFIX = "LKST"
_SEAL_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    """One assumed-role session, as its token says."""

    access_key_id: str
    role_arn: str  # arn:aws:iam::ACCOUNT:role/PATH/NAME
    role_id: str  # AROA...
    name: str  # the RoleSessionName (a function's name, for its execution role)
    expires: float  # epoch seconds
    policy: str = ""  # the inline session policy AssumeRole was given
    policy_arns: tuple[str, ...] = ()  # its managed session policies

    @property
    def expiration(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)

    def principal(self) -> Principal:
        """Who signs with the session's key: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION (no path)."""
        account = self.role_arn.split(":")[4]
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return Principal(
            kind="assumed-role",
            arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{self.name}",
            account=account,
            user_id=f"{self.role_id}:{self.name}",
            name=self.name,
            role_arn=self.role_arn,
            session_policy=self.policy,
            session_policy_arns=self.policy_arns,
        )


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    """What AssumeRole answers and a sandbox is given: AWS_ACCESS_KEY_ID, ..._SECRET_..., _SESSION_TOKEN."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    session: Session


class SessionSeal:
    """Issues temporary credentials and opens their tokens, with keys derived from the server's secret."""

    def __init__(self, server_secret: str) -> None:
        self._seal_key = _derive(server_secret, "session-token-seal")
        self._secret_key = _derive(server_secret, "session-key-secret")

    def issue(
        self,
        role_arn: str,
        role_id: str,
        name: str,
        expires: float,
        policy: str = "",
        policy_arns: tuple[str, ...] = (),
    ) -> TemporaryCredentials:
        """New credentials for a session of the role that end at `expires` (epoch seconds), capped by the
        session policies given (the token carries them)."""
        key_id = KEY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()
        session = Session(key_id, role_arn, role_id, name, float(int(expires)), policy, policy_arns)
        claims: dict[str, object] = {"k": key_id, "r": role_arn, "i": role_id, "s": name, "e": int(expires)}
        if policy:
            claims["p"] = policy
        if policy_arns:
            claims["a"] = list(policy_arns)
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        seal = hmac.new(self._seal_key, payload, hashlib.sha256).digest()
        token = _TOKEN_PREFIX + base64.urlsafe_b64encode(seal + payload).decode()
        return TemporaryCredentials(key_id, self.secret(key_id), token, session)

    def open(self, access_key_id: str, token: str | None) -> Session | None:
        """The session a token seals, if the seal is ours and it was issued with this key; else None."""
        if token is None or not token.startswith(_TOKEN_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(token[len(_TOKEN_PREFIX) :])
        except (binascii.Error, ValueError):
            return None
        seal, payload = raw[:_SEAL_BYTES], raw[_SEAL_BYTES:]
        if not hmac.compare_digest(seal, hmac.new(self._seal_key, payload, hashlib.sha256).digest()):
            return None
        claims = json.loads(payload)
        if claims["k"] != access_key_id:
            return None
        return Session(
            access_key_id,
            claims["r"],
            claims["i"],
            claims["s"],
            float(claims["e"]),
            claims.get("p", ""),
            tuple(claims.get("a", ())),
        )

    def secret(self, access_key_id: str) -> str:
        """The secret access key of a temporary key this server issued."""
        digest = hmac.new(self._secret_key, access_key_id.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()[:40]


def _derive(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
