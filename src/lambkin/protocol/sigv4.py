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
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.credentials import Credentials as BotoCredentials

ALGORITHM = "AWS4-HMAC-SHA256"
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
    signer = _verifier(scope.access_key_id, secret, scope.service, scope.region)
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
    signer: _Verifier,
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
    signing = _Signing(request.method, url, request.headers, _signed_names(signed_headers), payload, stamp)
    canonical = signer.canonical_request(signing)
    string_to_sign = signer.string_to_sign(signing, canonical)
    signature: str = signer.signature(string_to_sign, signing)
    return signature


@lru_cache(maxsize=64)
def _signed_names(signed_headers: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in signed_headers.split(";") if name.strip())


class _Signing:
    """The parts of an AWSRequest that botocore's canonical request and string to sign read, without
    building one (and its email.message headers) per request: method, url, params, headers, context."""

    __slots__ = ("context", "headers", "method", "names", "payload_hash", "url")
    params: dict[str, str] = {}

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        names: tuple[str, ...],
        payload_hash: str,
        timestamp: str,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = (
            headers  # lower-case names: botocore's 'X-Amz-Content-SHA256' check misses, payload() answers
        )
        self.names = names
        self.payload_hash = payload_hash
        self.context = {"timestamp": timestamp}


class _Chosen(dict[str, list[str]]):
    """The signed headers as botocore's canonical_headers reads them (iteration and get_all)."""

    def get_all(self, name: str) -> list[str]:
        return self[name]


class _Verifier(SigV4Auth):  # type: ignore[misc]
    """botocore's signer over exactly the headers the client signed, the payload hash computed once,
    and the signing key derived once a day per region and service instead of on every request. The parts
    of the canonical request that depend only on the path or on the signed header names (botocore's
    normalized path, its signed-headers line) are kept per path and per names: the same function is called
    at the same path, with the same headers signed, request after request.

    The canonical request and the string to sign are botocore's, built in one pass over the signed names
    (sorted once per list of names) instead of through its per-header helpers; a list that names a header
    twice takes botocore's own way. tests/unit/protocol/test_sigv4_canonical.py holds them equal."""

    def __init__(self, credentials: BotoCredentials, service: str, region: str) -> None:
        super().__init__(credentials, service, region)
        self._paths: dict[str, str] = {}
        self._names: dict[tuple[str, ...], str] = {}
        self._sorted: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {}
        self._scope_tail = f"/{region}/{service}/aws4_request\n"

    def canonical_request(self, request: _Signing) -> str:
        names = request.names
        found = self._sorted.get(names)
        if found is None:
            if len(self._sorted) >= _KEPT:
                self._sorted.clear()
            unique = tuple(sorted(set(names)))
            # a header named twice: botocore's way (an empty tuple says so)
            found = self._sorted[names] = (
                (unique, ";".join(unique)) if len(unique) == len(names) else ((), "")
            )
        ordered, line = found
        if not ordered:
            return str(super().canonical_request(request))
        headers = request.headers
        canonical_headers = "\n".join(
            [f"{name}:{' '.join(headers.get(name, '').split())}" for name in ordered]
        )
        parts = urlsplit(request.url)
        path, query = self._normalize_url_path(parts.path), parts.query
        if query:  # sorted by key, then value
            pairs = sorted(pair.partition("=") for pair in query.split("&"))
            query = "&".join([f"{key}={value}" for key, _, value in pairs])
        return f"{request.method.upper()}\n{path}\n{query}\n{canonical_headers}\n\n{line}\n{request.payload_hash}"

    def string_to_sign(self, request: _Signing, canonical_request: str) -> str:
        stamp = request.context["timestamp"]
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        return f"{ALGORITHM}\n{stamp}\n{stamp[0:8]}{self._scope_tail}{digest}"

    def _normalize_url_path(self, path: str) -> str:
        normalized = self._paths.get(path)
        if normalized is None:
            if len(self._paths) >= _KEPT:
                self._paths.clear()
            normalized = self._paths[path] = super()._normalize_url_path(path)
        return normalized

    def signed_headers(self, headers_to_sign: _Chosen) -> str:
        names = tuple(headers_to_sign)
        line = self._names.get(names)
        if line is None:
            if len(self._names) >= _KEPT:
                self._names.clear()
            line = self._names[names] = super().signed_headers(headers_to_sign)
        return line

    def headers_to_sign(self, request: _Signing) -> _Chosen:
        chosen = _Chosen()
        for name in request.names:
            chosen.setdefault(name, []).append(request.headers.get(name, ""))
        return chosen

    def payload(self, request: _Signing) -> str:
        return request.payload_hash

    def signature(self, string_to_sign: str, request: _Signing) -> str:
        inner, outer = _signing_pads(
            self.credentials.secret_key,
            request.context["timestamp"][0:8],
            self._region_name,
            self._service_name,
        )
        # HMAC-SHA256 from the key's pads hashed once: two hash copies, not an HMAC set up per request
        digest = inner.copy()
        digest.update(string_to_sign.encode())
        mac = outer.copy()
        mac.update(digest.digest())
        signature: str = mac.hexdigest()
        return signature


_KEPT = 256  # paths and signed-header lists a signer remembers


@lru_cache(maxsize=64)
def _verifier(access_key_id: str, secret: str, service: str, region: str) -> _Verifier:
    """One signer per key, service and region: it holds no per-request state."""
    return _Verifier(BotoCredentials(access_key_id, secret), service, region)


@lru_cache(maxsize=256)
def _signing_pads(secret: str, date: str, region: str, service: str) -> tuple[Any, Any]:
    """SigV4's derived key (the HMAC chain over date, region, service and "aws4_request") as HMAC's inner
    and outer pads, each hashed already (RFC 2104: the key is 32 bytes, under SHA-256's 64-byte block)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
    return inner, outer
