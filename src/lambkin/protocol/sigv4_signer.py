"""botocore's SigV4 signer, made a verifier: the canonical request, string to sign and signature of a request
as botocore computes them, for the signature sigv4.verify compares. A module apart from sigv4's checks:
those are compiled (lambkin.compiled), and this class extends botocore's, a Python class mypyc cannot
extend."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.credentials import Credentials as BotoCredentials

ALGORITHM = "AWS4-HMAC-SHA256"


@lru_cache(maxsize=64)
def signed_names(signed_headers: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in signed_headers.split(";") if name.strip())


class Signing:
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


class Chosen(dict[str, list[str]]):
    """The signed headers as botocore's canonical_headers reads them (iteration and get_all)."""

    def get_all(self, name: str) -> list[str]:
        return self[name]


class Verifier(SigV4Auth):  # type: ignore[misc]
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

    def canonical_request(self, request: Signing) -> str:
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

    def string_to_sign(self, request: Signing, canonical_request: str) -> str:
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

    def signed_headers(self, headers_to_sign: Chosen) -> str:
        names = tuple(headers_to_sign)
        line = self._names.get(names)
        if line is None:
            if len(self._names) >= _KEPT:
                self._names.clear()
            line = self._names[names] = super().signed_headers(headers_to_sign)
        return line

    def headers_to_sign(self, request: Signing) -> Chosen:
        chosen = Chosen()
        for name in request.names:
            chosen.setdefault(name, []).append(request.headers.get(name, ""))
        return chosen

    def payload(self, request: Signing) -> str:
        return request.payload_hash

    def signature(self, string_to_sign: str, request: Signing) -> str:
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
def verifier(access_key_id: str, secret: str, service: str, region: str) -> Verifier:
    """One signer per key, service and region: it holds no per-request state."""
    return Verifier(BotoCredentials(access_key_id, secret), service, region)


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
