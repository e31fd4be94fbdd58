"""SigV4 verification of a request, header or presigned form, with botocore's signer as the reference."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote

from botocore.auth import UNSIGNED_PAYLOAD

from lambkin.protocol.sigv4_signer import ALGORITHM, Signing, Verifier, signed_names, verifier

MAX_SKEW = timedelta(minutes=15)
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_STAMP = "%Y%m%dT%H%M%SZ"

Failure = Literal["missing", "unknown_key", "mismatch", "expired", "expired_token", "malformed"]


class SigningKey(Protocol):
    """A key's secret and who signs with it (the caller is opaque here: identity's principal)."""

    @property
    def secret(self) -> str: ...

    @property
    def caller(self) -> Any: ...

    @property
    def expires(self) -> datetime | None:
        """When a temporary key's session ends (None: a long-term key)."""
        ...


KeyLookup = Callable[[str, str | None], SigningKey | None]
"""The key an access key ID names, given the request's X-Amz-Security-Token (temporary credentials) or None;
None for a key nobody issued (or whose token is not valid)."""


class SignatureError(Exception):
    """The request's signature is missing or wrong; `kind` picks the service's error code."""

    def __init__(self, kind: Failure, message: str) -> None:
        super().__init__(message)
        self.kind: Failure = kind
        self.message = message


@dataclass(frozen=True)
class Scope:
    """The credential scope a request claims: `AKID/20260101/us-east-1/lambda/aws4_request`."""

    access_key_id: str
    date: str
    region: str
    service: str


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature holds: the scope it was signed for, and who signed it."""

    scope: Scope
    caller: Any


@dataclass(slots=True)
class Incoming:
    """What verification needs of an HTTP request, exactly as it arrived."""

    method: str
    raw_path: str  # percent-encoded, as on the wire
    query_string: str  # raw
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def claimed_scope(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Scope | None:
    """The credential scope from the Authorization header or X-Amz-Credential, unverified."""
    authorization = headers.get("authorization", "")
    credential = None
    if authorization.startswith(ALGORITHM):
        credential = _authorization_fields(authorization).get("Credential")
    elif "X-Amz-Credential" in query:
        credential = query["X-Amz-Credential"][0]
    return _scope_of(credential)


@lru_cache(maxsize=32)
def _authorization_fields(authorization: str) -> dict[str, str]:
    """Credential, SignedHeaders and Signature of an Authorization header (read twice per request: once
    to pick the service, once to verify). Callers must not change the dict."""
    return dict(_AUTH_FIELD.findall(authorization))


@lru_cache(maxsize=32)
def _scope_of(credential: str | None) -> Scope | None:
    if not credential:
        return None
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    return Scope(*parts[:4])


def check_scope(scope: Scope, service: str, regions: Collection[str]) -> None:
    """Refuses, in AWS's words, a signature scoped to a region this endpoint does not serve or to another
    service than the one the request is for."""
    if scope.region not in regions:
        raise SignatureError(
            "mismatch", f"Credential should be scoped to a valid region, not '{scope.region}'. "
        )
    if scope.service != service:
        raise SignatureError("mismatch", f"Credential should be scoped to correct service: '{service}'. ")


def verify(request: Incoming, keys: KeyLookup, now: datetime) -> Verified:
    """The verified scope and caller of a request signed with a key `keys` knows; raises SignatureError
    otherwise."""
    query = parse_qsl(request.query_string, keep_blank_values=True) if request.query_string else []
    query_map: dict[str, list[str]] = {}
    for key, value in query:
        query_map.setdefault(key, []).append(value)
    authorization = request.headers.get("authorization")
    presigned = authorization is None and "X-Amz-Signature" in query_map
    if authorization is None and not presigned:
        raise SignatureError("missing", "Missing Authentication Token")
    if presigned:
        fields = {
            "Credential": query_map.get("X-Amz-Credential", [""])[0],
            "SignedHeaders": query_map.get("X-Amz-SignedHeaders", [""])[0],
            "Signature": query_map["X-Amz-Signature"][0],
        }
        stamp = query_map.get("X-Amz-Date", [""])[0]
        if query_map.get("X-Amz-Algorithm", [""])[0] != ALGORITHM:
            raise SignatureError(
                "malformed", "Unsupported X-Amz-Algorithm; only AWS4-HMAC-SHA256 is accepted."
            )
    else:
        assert authorization is not None
        if not authorization.startswith(ALGORITHM + " "):
            raise SignatureError("malformed", "Only AWS4-HMAC-SHA256 authorization is accepted.")
        fields = _authorization_fields(authorization)
        stamp = request.headers.get("x-amz-date", "")
    scope = _scope_of(fields.get("Credential"))
    if scope is None or not fields.get("SignedHeaders") or not fields.get("Signature"):
        raise SignatureError(
            "malformed", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'."
        )
    token = request.headers.get("x-amz-security-token")
    if token is None and presigned:
        token = query_map.get("X-Amz-Security-Token", [None])[0]
    signing_key = keys(scope.access_key_id, token)
    if signing_key is None:
        raise SignatureError("unknown_key", "The security token included in the request is invalid.")
    secret = signing_key.secret
    _check_time(_signed_at(stamp), now, presigned, query_map)
    body_hash = hashlib.sha256(request.body).hexdigest()
    _check_payload(request, body_hash)
    provided = fields["Signature"].encode()
    signer = verifier(scope.access_key_id, secret, scope.service, scope.region)
    # botocore hashes the body into presigned URLs too (an empty body, for query-protocol ones); S3-style
    # presigners use UNSIGNED-PAYLOAD instead, so a presigned URL may match either.
    payload_options = (body_hash, UNSIGNED_PAYLOAD) if presigned else (body_hash,)
    for payload in payload_options:
        expected = _expected_signature(request, query, signer, fields["SignedHeaders"], stamp, payload)
        if hmac.compare_digest(expected.encode(), provided):
            if signing_key.expires is not None and now >= signing_key.expires:
                raise SignatureError("expired_token", "The security token included in the request is expired")
            return Verified(scope, signing_key.caller)
    raise SignatureError(
        "mismatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details.",
    )


@lru_cache(maxsize=64)
def _signed_at(stamp: str) -> datetime:
    """The signing time of an X-Amz-Date stamp (one per second per client: cached)."""
    if len(stamp) == 16 and stamp[8] == "T" and stamp[15] == "Z":
        try:  # strptime is slow; this is every request
            return datetime(
                int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
                int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            pass
    raise SignatureError(
        "malformed", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _check_time(signed_at: datetime, now: datetime, presigned: bool, query: Mapping[str, list[str]]) -> None:
    if presigned:
        try:
            expires = int(query.get("X-Amz-Expires", ["900"])[0])
        except ValueError:
            raise SignatureError("malformed", "X-Amz-Expires must be a number of seconds.") from None
        deadline = signed_at + timedelta(seconds=min(expires, 604800))
        if now > deadline:
            raise SignatureError(
                "expired",
                f"Signature expired: {deadline.strftime(_STAMP)} is now earlier than {now.strftime(_STAMP)}",
            )
    elif signed_at < now - MAX_SKEW:
        raise SignatureError(
            "expired",
            f"Signature expired: {signed_at.strftime(_STAMP)} is now earlier than {(now - MAX_SKEW).strftime(_STAMP)} "
            f"({now.strftime(_STAMP)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW:
        raise SignatureError(
            "expired",
            f"Signature not yet current: {signed_at.strftime(_STAMP)} is still later than {(now + MAX_SKEW).strftime(_STAMP)} "
            f"({now.strftime(_STAMP)} + 15 min.)",
        )


def _check_payload(request: Incoming, body_hash: str) -> None:
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None or declared == "UNSIGNED-PAYLOAD":
        return
    if declared.startswith("STREAMING-"):
        raise SignatureError("malformed", "Chunked (STREAMING-*) payload signing is not supported.")
    if not hmac.compare_digest(declared.lower(), body_hash):
        raise SignatureError(
            "mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )


def _expected_signature(
    request: Incoming,
    query: list[tuple[str, str]],
    signer: Verifier,
    signed_headers: str,
    stamp: str,
    payload_hash: str,
) -> str:
    """The signature botocore's SigV4 signer computes for this request, signed headers and payload hash."""
    url = f"http://{request.headers.get('host', 'localhost')}{request.raw_path}"
    if query:
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query if k != "X-Amz-Signature"
        )
        url += f"?{canonical_query}" if canonical_query else ""
    # botocore signs a present x-amz-content-sha256 header as the payload hash
    payload = request.headers.get("x-amz-content-sha256", payload_hash)
    signing = Signing(request.method, url, request.headers, signed_names(signed_headers), payload, stamp)
    canonical = signer.canonical_request(signing)
    string_to_sign = signer.string_to_sign(signing, canonical)
    signature: str = signer.signature(string_to_sign, signing)
    return signature
