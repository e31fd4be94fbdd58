"""JWT authorizers: a token checked against the issuer's keys (found by OpenID discovery) as API Gateway does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lambkin.events.http import jwt_authorizer
from lambkin.events.http.jwt_authorizer import IssuerKeys, Rejected

ISSUER = "https://issuer.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def issuer_keys() -> tuple[IssuerKeys, list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"})
        return httpx.Response(200, json=jwks())

    return IssuerKeys(httpx.AsyncClient(transport=httpx.MockTransport(answer))), asked


def token(key: Any = KEY, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "app", "exp": now + 60, "iat": now, "sub": "alice", **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def check(value: str, scopes: tuple[str, ...] = (), keys: IssuerKeys | None = None) -> jwt_authorizer.Claims:
    return asyncio.run(jwt_authorizer.check(value, ISSUER, ["app"], scopes, keys or issuer_keys()[0]))


def test_a_good_token_gives_its_claims_and_scopes() -> None:
    keys, asked = issuer_keys()
    claims = check(token(scope="read write", n=3), ("write",), keys)
    assert (
        claims.claims["sub"] == "alice" and claims.claims["n"] == "3" and claims.scopes == ("read", "write")
    )
    check(token(aud=None, client_id="app"), keys=keys)
    assert asked == [f"{ISSUER}/.well-known/openid-configuration", f"{ISSUER}/keys"]  # read once, kept


@pytest.mark.parametrize(
    ("made", "description"),
    [
        (lambda: token(aud="other"), "valid audience"),
        (lambda: token(iss="https://elsewhere"), "valid issuer"),
        (lambda: token(exp=int(time.time()) - 10), "expired"),
        (lambda: token(nbf=int(time.time()) + 600), "not valid yet"),
        (lambda: token(OTHER), "signature"),
        (lambda: token(kid="unknown"), "kid"),
        (lambda: "not.a.token", "malformed"),
    ],
)
def test_bad_tokens_are_rejected_with_a_reason(made: Callable[[], str], description: str) -> None:
    with pytest.raises(Rejected, match=description) as rejected:
        check(made())  # made now: a token made at import could expire before the test runs
    assert rejected.value.status == 401


def test_missing_scopes_are_forbidden() -> None:
    with pytest.raises(Rejected) as rejected:
        check(token(scope="read"), ("write",))
    assert rejected.value.status == 403


def test_bearer_prefix() -> None:
    assert jwt_authorizer.bearer("Bearer abc") == "abc" and jwt_authorizer.bearer("abc") == "abc"
