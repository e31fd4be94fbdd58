"""Pulling an image from another registry: auth, retries, platform choice, verified blobs into the store.

ImageUnavailable          an image could not be resolved or pulled; the message says why
├── InvalidReference      the image URI does not parse
├── ImageNotFound         no such repository, tag or digest (or no entry for the platform)
├── PlatformMismatch      the image is built for another architecture or OS
├── RegistryAuthFailed    credentials missing or refused (401/403)
├── RegistryUnavailable   connection errors, 429 or 5xx after every retry
├── RegistryNotAllowed    the registry, or a redirect's host, is at an address pulls may not reach
└── ContentInvalid        a manifest, config, blob or layer that is malformed, hostile, or not
                          what its digest says
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NoReturn

import httpx

from lambkin.images.addresses import AddressRefused, CheckedTransport, RegistryAllowList, Resolver, resolve
from lambkin.images.blobs import BlobStore, sha256_digest
from lambkin.images.catalog import Catalog
from lambkin.images.errors import RegistryError
from lambkin.images.manifests import (
    MANIFEST_TYPES,
    MAX_MANIFEST_BYTES,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    host_architecture,
    parse_config,
    parse_manifest,
)
from lambkin.images.reference import ImageReference
from lambkin.images.registry_auth import Credentials, RegistryAuth, RegistryAuthError

log = logging.getLogger("lambkin.images")

CHUNK = 1 << 20
PARALLEL_BLOBS = 3
# Architecture names as Lambda and uname give them, to OCI's.
ARCHITECTURE_ALIASES = {"x86_64": "amd64", "aarch64": "arm64"}


class ImageUnavailable(Exception):
    """An image could not be resolved or pulled."""


class InvalidReference(ImageUnavailable):
    pass


class ImageNotFound(ImageUnavailable):
    pass


class PlatformMismatch(ImageUnavailable):
    pass


class RegistryAuthFailed(ImageUnavailable):
    pass


class RegistryUnavailable(ImageUnavailable):
    pass


class ContentInvalid(ImageUnavailable):
    pass


class RegistryNotAllowed(ImageUnavailable):
    pass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for connection errors, 429 and 5xx: `attempts` tries in all."""

    attempts: int = 5
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.first_delay * self.factor ** (attempt - 1)))


@dataclass(frozen=True)
class PullProgress:
    """One step of a pull or an import, for a progress display: a blob's bytes so far, or a phase ending."""

    digest: str  # of the blob (a docker-archive's layer: its diff ID, the same for an uncompressed one)
    phase: str  # "manifest", "downloading" (a pull), "copying" (an import), "exists", "done"
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[PullProgress], None]


@dataclass(frozen=True)
class PulledImage:
    """What a pull stored: the image manifest (one platform) under `repository`, and its config."""

    repository: str
    digest: str
    media_type: str
    manifest: ImageManifest
    config: ImageConfig
    downloaded: int = 0


@dataclass
class RegistryClient:
    """Pulls images from OCI/Docker registries into the BlobStore and the Catalog.

    https with verified certificates, except for insecure registries (`tls_verify=False`, those `insecure`
    lists, and loopback ones as docker treats them): https with any certificate if they speak TLS, else
    plain http. Every connection, redirects' and the token service's included, goes to a public address or
    to a registry `allowed` lists (`addresses.CheckedTransport`). `transport` lets unit tests stand in for
    the network, `resolver` for DNS.
    """

    blobs: BlobStore
    catalog: Catalog
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    tls_verify: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allowed: RegistryAllowList = field(default_factory=RegistryAllowList)
    insecure: RegistryAllowList = field(default_factory=RegistryAllowList)
    transport: httpx.AsyncBaseTransport | None = None
    resolver: Resolver = resolve
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def pull(
        self,
        ref: ImageReference,
        *,
        architecture: str | None = None,
        repository: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> PulledImage:
        """Pulls `ref` for linux/<architecture> (default: the host's) and stores it under `repository`
        (default: the reference's repository), tagged with the reference's tag if it has one."""
        arch = ARCHITECTURE_ALIASES.get(architecture or "", architecture or host_architecture())
        notify = progress or (lambda _: None)
        async with self._session(ref) as session:
            raw, media_type, digest = await session.manifest(ref.reference)
            manifest = _parse(raw, media_type, ref)
            if isinstance(manifest, ImageIndex):
                try:
                    chosen = manifest.select_platform("linux", arch)
                except RegistryError as exc:
                    raise ImageNotFound(f"{ref}: {exc}") from exc
                raw, media_type, digest = await session.manifest(chosen.digest)
                manifest = _parse(raw, media_type, ref)
                if not isinstance(manifest, ImageManifest):
                    raise ContentInvalid(f"{ref}: index entry {chosen.digest} is itself an index")
            notify(PullProgress(digest, "manifest"))
            config_raw = await session.small_blob(manifest.config.digest, manifest.config.size)
            try:
                config = parse_config(config_raw)
            except RegistryError as exc:
                raise ContentInvalid(f"{ref}: {exc}") from exc
            if config.architecture and config.architecture != arch:
                raise PlatformMismatch(
                    f"{ref} is a {config.os}/{config.architecture} image; linux/{arch} is needed"
                )
            await asyncio.to_thread(self.blobs.put_bytes, config_raw, manifest.config.digest)
            downloaded = await session.layers(manifest, notify)
        target = repository or ref.repository
        try:
            stored = await self.catalog.put_manifest(target, ref.tag or digest, raw, media_type)
        except RegistryError as exc:
            raise ContentInvalid(f"{ref}: {exc}") from exc
        log.info("pulled %s as %s@%s (%d bytes downloaded)", ref, target, stored, downloaded)
        return PulledImage(target, stored, manifest.media_type, manifest, config, downloaded)

    def _session(self, ref: ImageReference) -> _Session:
        return _Session(self, ref)


def _parse(raw: bytes, media_type: str, ref: ImageReference) -> ImageManifest | ImageIndex:
    try:
        return parse_manifest(raw, media_type)
    except RegistryError as exc:
        raise ContentInvalid(f"{ref}: {exc}") from exc


class _Session:
    """One pull's HTTP conversation with one registry: base URL, auth, retries."""

    def __init__(self, client: RegistryClient, ref: ImageReference) -> None:
        self.client = client
        self.ref = ref
        self._stack = AsyncExitStack()
        self._http: httpx.AsyncClient | None = None
        self._auth = RegistryAuth(client.credentials.get(ref.registry), f"repository:{ref.repository}:pull")
        self._base = ""

    @property
    def insecure(self) -> bool:
        """No certificate checks, http allowed: asked for, or a loopback registry (as docker does)."""
        listed = self.client.insecure.lists(self.ref.host, self.ref.port)
        return not self.client.tls_verify or self.ref.is_local_host or listed

    async def __aenter__(self) -> _Session:
        network = self.client.transport or httpx.AsyncHTTPTransport(verify=not self.insecure)
        http = httpx.AsyncClient(
            transport=CheckedTransport(self.client.allowed, network, self.client.resolver),
            follow_redirects=True,
            timeout=httpx.Timeout(60.0, connect=10.0),
        )
        self._http = await self._stack.enter_async_context(http)
        self._base = await self._pick_scheme()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _pick_scheme(self) -> str:
        """https; for an insecure registry, https if it speaks TLS at all, else plain http."""
        https = f"https://{self.ref.registry}"
        if not self.insecure:
            return https
        assert self._http is not None
        try:
            await self._http.get(f"{https}/v2/", timeout=5.0)
        except httpx.TransportError:
            return f"http://{self.ref.registry}"
        except AddressRefused as exc:
            raise self._not_allowed(exc) from None
        return https

    def _not_allowed(self, exc: AddressRefused) -> RegistryNotAllowed:
        return RegistryNotAllowed(
            f"{self.ref}: refused {exc}; lambkin pulls only from public addresses, unless the server's"
            " private registries setting (LAMBKIN_PRIVATE_REGISTRIES) lists the registry"
        )

    async def _send(self, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
        """Sends with auth (answering one challenge) and retries; returns an open streaming response."""
        assert self._http is not None
        url = f"{self._base}/v2/{self.ref.repository}/{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._http.build_request(method, url, headers={**headers, **self._auth.header()})
                response = await self._http.send(request, stream=True)
                if response.status_code == 401 and self._auth.can_answer(response):
                    await response.aclose()
                    await self._auth.answer(self._http, response)
                    request = self._http.build_request(
                        method, url, headers={**headers, **self._auth.header()}
                    )
                    response = await self._http.send(request, stream=True)
            except RegistryAuthError as exc:
                raise RegistryAuthFailed(f"{self.ref}: {exc}") from exc
            except AddressRefused as exc:
                raise self._not_allowed(exc) from None
            except httpx.TransportError as exc:
                if _is_tls_failure(exc):  # no retry makes a certificate valid
                    raise RegistryUnavailable(
                        f"{self.ref}: TLS with {self._base} failed ({exc}); for a registry without a"
                        " valid certificate, or plain http, use --tls-verify=false"
                    ) from exc
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    if response.status_code >= 400:
                        await response.aclose()
                        self._refuse(response)
                    return response
                await response.aclose()
                problem = f"HTTP {response.status_code}"
            if attempt >= self.client.retry.attempts:
                raise RegistryUnavailable(
                    f"{self.ref}: {method} {url} failed after {attempt} attempts: {problem}"
                )
            log.warning("%s %s: %s; retrying", method, url, problem)
            await self.client.sleep(self.client.retry.delay(attempt))

    def _refuse(self, response: httpx.Response) -> NoReturn:
        status = response.status_code
        url = response.request.url
        if status in (401, 403):
            raise RegistryAuthFailed(f"{self.ref}: the registry refused access ({status}) to {url}")
        if status == 404:
            raise ImageNotFound(f"{self.ref}: not found in the registry ({url})")
        raise ImageUnavailable(f"{self.ref}: the registry answered {status} to {url}")

    async def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """A manifest by tag or digest: its bytes, media type and (verified) digest."""
        response = await self._send(
            "GET", f"manifests/{reference}", {"Accept": ", ".join(sorted(MANIFEST_TYPES))}
        )
        try:
            raw = await _read_capped(response, MAX_MANIFEST_BYTES)
        finally:
            await response.aclose()
        digest = sha256_digest(raw)
        announced = response.headers.get("Docker-Content-Digest")
        expected = reference if reference.startswith("sha256:") else announced
        if expected and expected.startswith("sha256:") and expected != digest:
            raise ContentInvalid(f"{self.ref}: manifest {reference} hashes to {digest}, not {expected}")
        return raw, response.headers.get("Content-Type", ""), digest

    async def small_blob(self, digest: str, size: int) -> bytes:
        response = await self._send("GET", f"blobs/{digest}", {})
        try:
            data = await _read_capped(response, max(size, 0) + 1)
        finally:
            await response.aclose()
        if sha256_digest(data) != digest:
            raise ContentInvalid(f"{self.ref}: blob {digest} does not match its digest")
        return data

    async def layers(self, manifest: ImageManifest, notify: ProgressCallback) -> int:
        """Downloads every layer the store lacks, a few at a time; returns the bytes downloaded."""
        limit = asyncio.Semaphore(PARALLEL_BLOBS)
        sizes: list[int] = []

        async def one(digest: str, size: int) -> None:
            async with limit:
                sizes.append(await self.download(digest, size, notify))

        try:
            async with asyncio.TaskGroup() as group:
                for layer in dict.fromkeys((d.digest, d.size) for d in manifest.layers):
                    group.create_task(one(*layer))
        except* ImageUnavailable as failed:
            raise failed.exceptions[0] from None
        return sum(sizes)

    async def download(self, digest: str, size: int, notify: ProgressCallback) -> int:
        """Streams one blob into a staging file, hashing as it goes; verified, then adopted by the store."""
        blobs = self.client.blobs
        if await asyncio.to_thread(blobs.exists, digest):
            notify(PullProgress(digest, "exists", size, size))
            return 0
        for attempt in range(1, self.client.retry.attempts + 1):
            staged = blobs.new_staging_path()
            try:
                written = await self._stream_to(staged, digest, size, notify)
            except (httpx.TransportError, _ShortRead) as exc:
                staged.unlink(missing_ok=True)
                if attempt == self.client.retry.attempts:
                    raise RegistryUnavailable(
                        f"{self.ref}: blob {digest} failed {attempt} times: {exc}"
                    ) from exc
                log.warning("blob %s: %s; retrying", digest, exc)
                await self.client.sleep(self.client.retry.delay(attempt))
                continue
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
            await asyncio.to_thread(blobs.adopt, staged, digest)
            notify(PullProgress(digest, "done", written, size))
            return written
        raise AssertionError("unreachable")

    async def _stream_to(self, staged: Path, digest: str, size: int, notify: ProgressCallback) -> int:
        hasher = hashlib.sha256()
        written = 0
        response = await self._send("GET", f"blobs/{digest}", {})
        out: BinaryIO = await asyncio.to_thread(staged.open, "wb")
        try:
            buffer = bytearray()
            async for chunk in response.aiter_bytes(CHUNK):
                buffer += chunk
                written += len(chunk)
                if written > size:
                    raise ContentInvalid(f"{self.ref}: blob {digest} is larger than its {size} bytes")
                if len(buffer) >= CHUNK:
                    await asyncio.to_thread(_write, out, hasher, bytes(buffer))
                    buffer.clear()
                    notify(PullProgress(digest, "downloading", written, size))
            await asyncio.to_thread(_write, out, hasher, bytes(buffer))
        finally:
            await response.aclose()
            await asyncio.to_thread(out.close)
        if written < size:
            raise _ShortRead(f"blob {digest} ended after {written} of {size} bytes")
        if "sha256:" + hasher.hexdigest() != digest:
            raise ContentInvalid(f"{self.ref}: blob {digest} does not match its digest")
        return written


def _is_tls_failure(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> ssl, a few links deep
        if cause is None:
            return False
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class _ShortRead(Exception):
    """A blob's body ended early (a dropped connection): worth another attempt."""


def _write(out: BinaryIO, hasher: hashlib._Hash, data: bytes) -> None:
    hasher.update(data)
    out.write(data)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ContentInvalid(f"{response.request.url}: response is larger than {limit} bytes")
    return bytes(body)
