"""Blob uploads: resumable sessions streamed to staging files while hashing, verified, then stored."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambkin.images.blobs import CHUNK, BlobStore, write_stream
from lambkin.images.catalog import Catalog, check_digest, check_repository
from lambkin.images.errors import (
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)
from lambkin.store import Connection, Store

UPLOAD_PREFIX = "upload-"
# An upload's id: a UUID, and on a cluster ".<node>", the node whose staging file holds the session.
UPLOAD_ID_RE = re.compile(
    r"^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?:\.(?P<node>[A-Za-z0-9_.-]{1,128}))?$"
)

Chunks = AsyncIterator[bytes]


def upload_node(upload_id: str) -> str | None:
    """The node an upload's id names (None: a single node's id, or no upload id at all)."""
    match = UPLOAD_ID_RE.match(upload_id)
    return None if match is None else match["node"]


@dataclass(frozen=True)
class UploadStatus:
    """Where an upload stands: the bytes received so far are 0..offset-1."""

    uuid: str
    repository: str
    offset: int


@dataclass
class _Session:
    """The in-memory side of an upload: the running hash of the staging file's first `offset` bytes."""

    repository: str
    path: Path
    hasher: Any
    offset: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Uploads:
    """Upload sessions of the distribution spec: start, append chunks, finish with a digest, cancel.

    Sessions are recorded in the database and their bytes kept in a staging file, so an upload
    survives a server restart (the hash is rebuilt from the file). A chunk is all or nothing: a
    request that fails halfway is cut back off the file. A blob becomes visible only once its digest is
    verified and it is durable (BlobStore.adopt).

    On a cluster (`node` given) an upload's id names the node that holds it, so that any node can send the
    session's later requests there (api/registry_relay.py); each node collects only its own sessions.
    """

    def __init__(self, db: Store, blobs: BlobStore, catalog: Catalog, node: str | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.catalog = catalog
        self.node = node
        self._sessions: dict[str, _Session] = {}

    def holder(self, upload_id: str) -> str | None:
        """The node an upload id names, if that is another node; None for this node's own sessions.
        Raises BlobUploadUnknown for an id no node would have made."""
        if not UPLOAD_ID_RE.match(upload_id):
            raise BlobUploadUnknown(f"unknown upload {upload_id!r}", {"uuid": upload_id})
        node = upload_node(upload_id)
        return None if node is None or node == self.node else node

    def _path(self, upload_id: str) -> Path:
        return self.blobs.staging / f"{UPLOAD_PREFIX}{upload_id}"

    async def start(self, repository: str) -> UploadStatus:
        check_repository(repository)
        upload_id = str(uuid.uuid4()) + (f".{self.node}" if self.node is not None else "")
        path = self._path(upload_id)
        await asyncio.to_thread(path.touch)

        def record(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO uploads (uuid, repository, started_at) VALUES (?, ?, ?)",
                (upload_id, repository, time.time()),
            )

        await self.db.run(record)
        self._sessions[upload_id] = _Session(repository, path, hashlib.sha256(), 0)
        return UploadStatus(upload_id, repository, 0)

    async def status(self, repository: str, upload_id: str) -> UploadStatus:
        session = await self._session(repository, upload_id)
        return UploadStatus(upload_id, repository, session.offset)

    async def append(
        self,
        repository: str,
        upload_id: str,
        chunks: Chunks,
        start: int | None = None,
        end: int | None = None,
    ) -> UploadStatus:
        """Appends one chunk. With a Content-Range (`start`-`end`, inclusive) it must continue the upload."""
        session = await self._session(repository, upload_id)
        if session.lock.locked():
            raise BlobUploadInvalid(f"upload {upload_id} is already receiving a chunk")
        async with session.lock:
            await self._append(session, upload_id, chunks, start, end)
            return UploadStatus(upload_id, repository, session.offset)

    async def finish(
        self, repository: str, upload_id: str, digest: str, chunks: Chunks, start: int | None = None
    ) -> str:
        """Appends the last chunk (may be empty), checks the digest, stores the blob; returns the digest."""
        check_digest(digest)
        session = await self._session(repository, upload_id)
        if session.lock.locked():
            raise BlobUploadInvalid(f"upload {upload_id} is already receiving a chunk")
        async with session.lock:
            await self._append(session, upload_id, chunks, start, None)
            actual = "sha256:" + session.hasher.hexdigest()
            if actual != digest:
                await self._forget(upload_id)
                raise DigestInvalid(
                    f"the uploaded content hashes to {actual}, not {digest}; upload again",
                    {"expected": digest, "actual": actual},
                )
            try:
                await asyncio.to_thread(self._adopt, session, digest)
            except BlobUploadInvalid:
                await self._forget(upload_id)
                raise
            await self.catalog.link_blob(repository, digest)
            await self._forget(upload_id)
            return digest

    def _adopt(self, session: _Session, digest: str) -> None:
        try:
            on_disk = session.path.stat().st_size
        except FileNotFoundError:
            on_disk = -1
        if on_disk != session.offset:
            raise BlobUploadInvalid(
                f"the upload's staging file holds {on_disk} bytes, not the {session.offset} received; upload again"
            )
        self.blobs.adopt(session.path, digest)

    async def cancel(self, repository: str, upload_id: str) -> None:
        await self._session(repository, upload_id)
        await self._forget(upload_id)

    async def put_whole(self, repository: str, digest: str, chunks: Chunks, size: int | None = None) -> str:
        """A monolithic upload (POST ?digest=): the whole blob in one request, no session kept."""
        check_repository(repository)
        check_digest(digest)
        path = self.blobs.new_staging_path()
        hasher = hashlib.sha256()
        try:
            written = await write_stream(path, 0, hasher, chunks)
            if size is not None and written != size:
                raise SizeInvalid(f"received {written} bytes, but the request announced {size}")
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise DigestInvalid(
                    f"the uploaded content hashes to {actual}, not {digest}",
                    {"expected": digest, "actual": actual},
                )
            await asyncio.to_thread(self.blobs.adopt, path, digest)
        finally:
            await asyncio.to_thread(path.unlink, True)
        await self.catalog.link_blob(repository, digest)
        return digest

    async def _append(
        self, session: _Session, upload_id: str, chunks: Chunks, start: int | None, end: int | None
    ) -> None:
        if start is not None and start != session.offset:
            raise RangeInvalid(
                f"chunk starts at byte {start}, but the upload has {session.offset} bytes; "
                f"send the chunk that starts at {session.offset}",
                {"offset": session.offset},
            )
        if start is not None and end is not None and end < start - 1:
            raise RangeInvalid(f"invalid Content-Range {start}-{end}", {"offset": session.offset})
        before_offset, before_hash = session.offset, session.hasher.copy()
        try:
            written = await write_stream(session.path, session.offset, session.hasher, chunks, create=False)
            if start is not None and end is not None and written != end - start + 1:
                raise BlobUploadInvalid(
                    f"Content-Range {start}-{end} announces {end - start + 1} bytes, but {written} arrived"
                )
        except FileNotFoundError:
            # Garbage collection removed an abandoned upload under us.
            await self._forget(upload_id)
            raise BlobUploadUnknown(
                f"upload {upload_id} was abandoned and removed", {"uuid": upload_id}
            ) from None
        except BaseException:
            # All or nothing: cut the partial chunk off, so the upload can be resumed from before it.
            session.offset, session.hasher = before_offset, before_hash
            _truncate(session.path, before_offset)
            raise
        session.offset += written

    async def _session(self, repository: str, upload_id: str) -> _Session:
        check_repository(repository)
        session = self._sessions.get(upload_id)
        if session is not None and session.repository == repository:
            return session
        if session is not None:
            raise BlobUploadUnknown(f"upload {upload_id} is not in {repository}", {"uuid": upload_id})

        def find(conn: Connection) -> str | None:
            row = conn.execute("SELECT repository FROM uploads WHERE uuid = ?", (upload_id,)).fetchone()
            return None if row is None else str(row[0])

        owner = await self.db.run(find)
        path = self._path(upload_id)
        if owner != repository or not await asyncio.to_thread(path.is_file):
            raise BlobUploadUnknown(f"upload {upload_id} is not in {repository}", {"uuid": upload_id})
        # Known from before a restart: rebuild the running hash from what the file holds.
        hasher, offset = await asyncio.to_thread(_rehash, path)
        session = self._sessions.setdefault(upload_id, _Session(repository, path, hasher, offset))
        return session

    async def _forget(self, upload_id: str) -> None:
        session = self._sessions.pop(upload_id, None)

        def delete(conn: Connection) -> None:
            conn.execute("DELETE FROM uploads WHERE uuid = ?", (upload_id,))

        await self.db.run(delete)
        path = session.path if session else self._path(upload_id)
        await asyncio.to_thread(path.unlink, True)


def _truncate(path: Path, size: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.truncate(path, size)


def _rehash(path: Path) -> tuple[Any, int]:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher, size
