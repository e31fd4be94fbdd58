"""GetFunction's Code.Location for zip packages: time-limited URLs signed by lambkin, and the endpoint serving them.

A URL is `<base>/_lambkin/packages/<sha256 hex>?Expires=<epoch s>&Signature=<hex HMAC>`; the HMAC-SHA256 of
the digest and the expiry is keyed by a key derived from the server's secret, so only lambkin makes them
and nobody can stretch one's life or point it at another package. Lambda's own links live 10 minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from lambkin.api.asgi import Receive, Scope, Send, respond
from lambkin.images.catalog import Catalog

PREFIX = "/_lambkin/packages"
LIFETIME_S = 600
CHUNK = 1 << 20
_HEX = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class CodeUrls:
    """Signs and checks download URLs of stored packages."""

    base: str  # scheme://host[:port] clients reach lambkin at
    key: bytes

    @classmethod
    def from_secret(cls, base: str, secret: str) -> CodeUrls:
        key = hmac.new(secret.encode(), b"lambkin package downloads", hashlib.sha256).digest()
        return cls(base.rstrip("/"), key)

    def _signature(self, hex_digest: str, expires: int) -> str:
        return hmac.new(self.key, f"{hex_digest}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, digest: str, now: float) -> str:
        """The download URL of the package blob `digest` (sha256:...), valid for LIFETIME_S from `now`."""
        hex_digest = digest.partition(":")[2]
        expires = int(now) + LIFETIME_S
        return f"{self.base}{PREFIX}/{hex_digest}?Expires={expires}&Signature={self._signature(hex_digest, expires)}"

    def check(self, hex_digest: str, expires: str, signature: str, now: float) -> str | None:
        """None if the URL's parts are lambkin's and unexpired, else why not."""
        if not _HEX.match(hex_digest) or not expires.isdigit():
            return "malformed URL"
        if not hmac.compare_digest(self._signature(hex_digest, int(expires)), signature):
            return "signature does not match"
        if int(expires) < now:
            return "URL expired"
        return None


class CodeDownloads:
    """The ASGI endpoint at PREFIX: a valid URL gets the zip, anything else 403 (404 once the package is gone)."""

    def __init__(self, urls: CodeUrls, catalog: Catalog, clock: Callable[[], float] = time.time) -> None:
        self.urls = urls
        self.catalog = catalog
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hex_digest = scope.get("path", "")[len(PREFIX) + 1 :]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        problem = (
            "only GET"
            if scope.get("method") not in ("GET", "HEAD")
            else self.urls.check(
                hex_digest,
                (query.get("Expires") or [""])[0],
                (query.get("Signature") or [""])[0],
                self.clock(),
            )
        )
        if problem is not None:
            await respond(send, 403, _xml("AccessDenied", problem), [(b"content-type", b"application/xml")])
            return
        digest = f"sha256:{hex_digest}"
        if not await self.catalog.peers.ensure(digest):
            await respond(
                send, 404, _xml("NoSuchKey", "the package is gone"), [(b"content-type", b"application/xml")]
            )
            return
        await _send_file(send, self.catalog.blobs.path(digest), scope.get("method") == "HEAD")


async def _send_file(send: Send, path: Path, head_only: bool) -> None:
    size = (await asyncio.to_thread(path.stat)).st_size
    headers = [(b"content-type", b"application/zip"), (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if head_only:
        await send({"type": "http.response.body", "body": b""})
        return
    with path.open("rb") as source:
        while True:
            chunk = await asyncio.to_thread(source.read, CHUNK)
            more = len(chunk) == CHUNK
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return


def _xml(code: str, message: str) -> bytes:
    return f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
