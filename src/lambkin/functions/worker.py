"""ImageWorker: resolves and unpacks the images of Pending / InProgress versions in the background."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from lambkin.functions import changes
from lambkin.functions.cache import ReadCache
from lambkin.functions.model import LATEST, FunctionVersion, ResolvedCode
from lambkin.functions.repository import FunctionRepository
from lambkin.functions.states import is_settled
from lambkin.store import Connection, Store, StoreError

log = logging.getLogger("lambkin.functions")

_NOT_FOUND = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "NAME_INVALID", "TAG_INVALID"}
_DENIED = {"UNAUTHORIZED", "DENIED"}
_NOT_FOUND_TYPES = {"ImageNotFound", "ManifestUnknown", "NameUnknown"}
_DENIED_TYPES = {"RegistryAuthFailed", "RegistryUnavailable", "RegistryNotAllowed", "Unauthorized"}
PARALLEL = 4
STORE_RETRY_S = 2.0  # a version whose work met the database away is tried again after this

Publish = Callable[[Connection, FunctionVersion, str | None], FunctionVersion]


class ImageResolver(Protocol):
    """What the control plane needs from the image service (`images.service.ImageService`)."""

    async def resolve(self, image_uri: str, architecture: str | None = None) -> Any: ...

    async def prepare(self, resolved: Any) -> Any: ...


def failure_reason(image_uri: str, exc: BaseException) -> tuple[str, str]:
    """(StateReasonCode, StateReason) for an image that could not be resolved or unpacked.

    Reads the image service's errors by name (ImageNotFound, RegistryAuthFailed, ...) or by their
    distribution-spec `code`, so this part depends on no concrete image module.
    """
    code = str(getattr(exc, "code", ""))
    kind = type(exc).__name__
    detail = getattr(exc, "message", None) or str(exc) or kind
    if kind in _NOT_FOUND_TYPES or code in _NOT_FOUND or isinstance(exc, LookupError):
        return (
            "ImageDeleted",
            f"Source image {image_uri} does not exist. Provide a valid source image. ({detail})",
        )
    if kind in _DENIED_TYPES or code in _DENIED or isinstance(exc, PermissionError):
        return "ImageAccessDenied", f"Lambkin cannot access the image {image_uri}. ({detail})"
    return "InvalidImage", f"The image {image_uri} is not a valid function image: {detail}"


def resolved_code(image_uri: str, resolved: Any) -> ResolvedCode:
    """Our record of what the image service resolved: the digest's hex is CodeSha256, as in Lambda."""
    digest = str(resolved.digest)
    return ResolvedCode(
        image_uri=image_uri,
        resolved_image_uri=str(resolved.resolved_uri),
        image_digest=digest,
        code_sha256=digest.partition(":")[2] or digest,
        code_size=int(getattr(resolved, "code_size", 0) or 0),
    )


class ImageWorker:
    """Owns the queue of versions awaiting their image; `run()` drains it under a TaskGroup."""

    def __init__(self, db: Store, resolver: ImageResolver, cache: ReadCache | None = None) -> None:
        self.db = db
        self.cache = cache or ReadCache()
        self.resolver = resolver
        self.repo = FunctionRepository()
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str]] = set()
        self.publish: Publish | None = None

    def submit(self, name: str, version: str) -> None:
        key = (name, version)
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def run(self) -> None:
        """Resumes whatever was Pending/InProgress at start-up, then serves new work until cancelled."""
        for version in await self.db.run(self.repo.busy):
            self.submit(version.name, version.version)
        slots = asyncio.Semaphore(PARALLEL)
        async with asyncio.TaskGroup() as group:
            while True:
                key = await self._queue.get()
                # Forget the key before working on it: a submit while it is under way (the function was
                # deleted and created again, say) must queue it once more.
                self._queued.discard(key)
                await slots.acquire()
                group.create_task(self._guarded(key, slots))

    async def _guarded(self, key: tuple[str, str], slots: asyncio.Semaphore) -> None:
        try:
            await self.settle(*key)
        except StoreError as exc:  # the database away or full: the version stays as it is, tried again later
            log.warning("%s:%s waits for the database: %s", *key, exc)
            asyncio.get_running_loop().call_later(STORE_RETRY_S, self.submit, *key)
        except Exception:
            log.exception("resolving the image of %s:%s failed unexpectedly", *key)
        finally:
            slots.release()

    async def settle(self, name: str, version_name: str) -> FunctionVersion | None:
        """Resolves one version's image and records the outcome; None if nothing was due."""
        version = await self.db.run(lambda conn: self.repo.version(conn, name, version_name))
        if version is None or not _due(version):
            return None
        image_uri = changes.work_image(version)
        try:
            resolved = await self.resolver.resolve(image_uri, version.architectures[0])
            await self.resolver.prepare(resolved)
            code = resolved_code(image_uri, resolved)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason_code, reason = failure_reason(image_uri, exc)
            log.info("image %s for %s:%s failed: %s", image_uri, name, version_name, reason)
            return await self.cache.write(
                self.db, name, lambda conn: self._record_failure(conn, version, reason_code, reason)
            )
        return await self.cache.write(
            self.db, name, lambda conn: self._record_success(conn, version, image_uri, code)
        )

    def _record_success(
        self, conn: Connection, seen: FunctionVersion, image_uri: str, code: ResolvedCode
    ) -> FunctionVersion | None:
        current = self.repo.version(conn, seen.name, seen.version)
        if current is None or not _due(current) or changes.work_image(current) != image_uri:
            return None
        done = changes.code_resolved(current, code)
        self.repo.put_version(conn, done)
        if done.version != LATEST:
            return done
        for other in self.repo.versions_of(conn, seen.name, after=0):
            if _due(other) and changes.work_image(other) == image_uri:
                self.repo.put_version(conn, changes.code_resolved(other, code))
        record = self.repo.record(conn, seen.name)
        if record is not None and record.publish_after_update and self.publish is not None:
            self.repo.put_record(conn, dataclasses.replace(record, publish_after_update=False))
            self.publish(conn, done, None)
        return done

    def _record_failure(
        self, conn: Connection, seen: FunctionVersion, reason_code: str, reason: str
    ) -> FunctionVersion | None:
        current = self.repo.version(conn, seen.name, seen.version)
        if current is None or not _due(current) or changes.work_image(current) != changes.work_image(seen):
            return None
        failed = changes.code_failed(current, reason_code, reason)
        self.repo.put_version(conn, failed)
        if failed.version == LATEST:
            for other in self.repo.versions_of(conn, seen.name, after=0):
                if _due(other) and changes.work_image(other) == changes.work_image(seen):
                    self.repo.put_version(conn, changes.code_failed(other, reason_code, reason))
            record = self.repo.record(conn, seen.name)
            if record is not None and record.publish_after_update:
                self.repo.put_record(conn, dataclasses.replace(record, publish_after_update=False))
        return failed


def _due(version: FunctionVersion) -> bool:
    return not is_settled(version.state, version.last_update_status)
