"""JWT authorizers of HTTP APIs: the issuer's keys (OpenID discovery, then its JWKS, fetched and kept),
and a token checked as API Gateway checks it (RSA signature by a known `kid`, `iss`, `aud` or `client_id`,
`exp`, `nbf`, `iat`, and the route's scopes), with PyJWT."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger("lambkin.gateway")

ALGORITHMS = ["RS256", "RS384", "RS512"]
KEYS_KEPT_S = 3600.0  # an issuer's keys are read again after this, or sooner for a key id they lack
REFETCH_AFTER_S = 60.0  # ... but not more often than this
FETCH_TIMEOUT_S = 5.0


class Rejected(Exception):
    """The token is not accepted: 401, or 403 when only its scopes fall short."""

    def __init__(self, description: str, status: int = 401) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Claims:
    claims: Mapping[str, Any]
    scopes: tuple[str, ...] | None


def bearer(value: str) -> str:
    """The token of an identity source value: the bare token, or `Bearer <token>`."""
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else value.strip()


class IssuerKeys:
    """Each issuer's signing keys by key id, fetched by OpenID discovery and kept for KEYS_KEPT_S."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._kept: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        kept = self._kept.get(issuer)
        fresh = kept is not None and now - kept[0] < KEYS_KEPT_S
        if kept is not None and ((kid in kept[1] and fresh) or now - kept[0] < REFETCH_AFTER_S):
            return kept[1].get(kid)
        keys = await self._fetch(issuer)
        self._kept[issuer] = (now, keys)
        return keys.get(kid)

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        client = self._client or httpx.AsyncClient(timeout=FETCH_TIMEOUT_S)
        try:
            discovery = await client.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
            discovery.raise_for_status()
            found = await client.get(str(discovery.json()["jwks_uri"]))
            found.raise_for_status()
            keys: dict[str, jwt.PyJWK] = {}
            for data in found.json().get("keys", []):
                try:
                    parsed = jwt.PyJWK(data)
                except jwt.PyJWTError:
                    continue
                if parsed.key_id:
                    keys[parsed.key_id] = parsed
            return keys
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("JWT issuer %s: its keys could not be read: %s", issuer, exc)
            return {}
        finally:
            if self._client is None:
                await client.aclose()


async def check(
    token: str, issuer: str, audiences: Sequence[str], scopes: Sequence[str], keys: IssuerKeys
) -> Claims:
    """The token's claims if API Gateway would accept it for a route needing `scopes`; raises Rejected."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Rejected("the token is malformed") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or header.get("alg") not in ALGORITHMS:
        raise Rejected("the token has no kid or is not signed with RSA")
    key = await keys.key(issuer, kid)
    if key is None:
        raise Rejected("the token's kid matches no key of the issuer")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            issuer=issuer,
            options={"verify_aud": False, "require": ["exp", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Rejected("the token has expired") from None
    except jwt.InvalidIssuerError:
        raise Rejected("the token does not have a valid issuer") from None
    except jwt.ImmatureSignatureError:
        raise Rejected("the token is not valid yet") from None
    except jwt.PyJWTError:
        raise Rejected("the token's signature or claims are not valid") from None
    offered: list[Any] = []
    for name in ("aud", "client_id"):
        given = claims.get(name)
        offered += given if isinstance(given, list) else [given]
    if not any(isinstance(a, str) and a in audiences for a in offered):
        raise Rejected("the token does not have a valid audience")
    granted = _scopes(claims)
    if scopes and not (granted and set(granted) & set(scopes)):
        raise Rejected("the token does not have the route's scopes", 403)
    return Claims({k: v if isinstance(v, str) else _text(v) for k, v in claims.items()}, granted)


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


def _text(value: Any) -> str:
    """A claim as API Gateway hands it to the function: a string (lists in brackets, numbers as digits)."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)
