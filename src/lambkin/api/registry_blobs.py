"""Registry endpoints for blobs: HEAD/GET (with Range), DELETE, uploads (monolithic, chunked) and mounts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re

from lambkin.api.asgi import Receive, Send, respond
from lambkin.api.registry_http import Handler, Headers, Request, render_error
from lambkin.api.registry_relay import UploadRelay
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog, check_digest, check_repository
from lambkin.images.errors import (
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
)
from lambkin.images.uploads import UPLOAD_ID_RE, Uploads, UploadStatus

log = logging.getLogger("lambkin.registry")

READ_CHUNK = 1 << 20
# Blobs whose bytes were seen to match their digest, by the file's identity and change times; forgotten
# whole when this many are remembered.
VERIFIED_KEPT = 65_536
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class BlobHandlers:
    """The blob and upload endpoints of one registry."""

    def __init__(
        self, catalog: Catalog, uploads: Uploads, blobs: BlobStore, relay: UploadRelay | None = None
    ) -> None:
        self.catalog = catalog
        self.uploads = uploads
        self.blobs = blobs
        self.relay = relay  # None on a single node: every session is its own
        self._verified: dict[str, tuple[int, ...]] = {}

    def blob_routes(self) -> dict[str, Handler]:
        return {"GET": self.get_blob, "HEAD": self.get_blob, "DELETE": self.delete_blob}

    def upload_routes(self) -> dict[str, Handler]:
        return {
            "POST": self.start_upload,
            "GET": self._held(self.upload_status),
            "PATCH": self._held(self.patch_upload),
            "PUT": self._held(self.finish_upload),
            "DELETE": self._held(self.cancel_upload),
        }

    def _held(self, handler: Handler) -> Handler:
        """A session's request, served here if this node holds the session, else relayed to the node that does."""

        async def serve(request: Request, send: Send, params: dict[str, str]) -> None:
            upload_id = params["uuid"]
            holder = self.uploads.holder(upload_id)
            if holder is None:
                await handler(request, send, params)
            elif self.relay is None:
                raise BlobUploadUnknown(f"unknown upload {upload_id!r}", {"uuid": upload_id})
            else:
                await self.relay.forward(holder, request, send, upload_id)

        return serve

    async def get_blob(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name, digest = params["name"], check_digest(params["digest"])
        if not await self.catalog.repository_has_blob(name, digest):
            raise BlobUnknown(f"blob {digest} is not in {name}", {"digest": digest})
        try:
            fd = await asyncio.to_thread(os.open, self.blobs.path(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise BlobUnknown(f"blob {digest} is not in {name}", {"digest": digest}) from None
        try:
            st = os.fstat(fd)
            size, identity = st.st_size, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            try:
                start, end = _byte_range(request.header(b"range"), size)
            except RangeInvalid as exc:
                extra: Headers = [(b"content-range", f"bytes */{size}".encode())]
                await render_error(send, exc, head=request.method == "HEAD", extra=extra)
                return
            headers: Headers = [
                (b"content-type", b"application/octet-stream"),
                (b"docker-content-digest", digest.encode()),
                (b"etag", f'"{digest}"'.encode()),
                (b"accept-ranges", b"bytes"),
                (b"content-length", str(end - start).encode()),
            ]
            partial = request.header(b"range") is not None and (start, end) != (0, size)
            if partial:
                headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
            status = 206 if partial else 200
            if request.method == "HEAD":
                await respond(send, status, b"", headers)
                return
            # A whole blob not yet verified in this file's present form is hashed as it streams; its last
            # chunk goes out only if the digest holds. A small one is read and checked before the answer
            # starts, so a corrupt one is the spec's BLOB_UNKNOWN.
            expected = digest if not partial and self._verified.get(digest) != identity else None
            if expected is not None and size <= READ_CHUNK:
                try:
                    data = await asyncio.to_thread(_read_checked, fd, size, expected)
                except _Corrupt:
                    await self._discard_corrupt(digest, st.st_ino)
                    raise BlobUnknown(f"blob {digest} is not in {name}", {"digest": digest}) from None
                self._remember(digest, identity)
                await respond(send, status, data, headers)
                return
            await send({"type": "http.response.start", "status": status, "headers": headers})
            verdict = await _stream_while_connected(fd, start, end, request.receive, send, expected)
            if verdict is True:
                self._remember(digest, identity)
            elif verdict is False:
                # Too late for an error: the answer ends short of its Content-Length, the connection closes.
                await self._discard_corrupt(digest, st.st_ino)
        finally:
            os.close(fd)

    def _remember(self, digest: str, identity: tuple[int, ...]) -> None:
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()
        self._verified[digest] = identity

    async def _discard_corrupt(self, digest: str, inode: int) -> None:
        """Deletes a blob whose bytes no longer match its digest (unless a push replaced that file since):
        from now on it is unknown, and the next push of it stores it again."""

        def delete() -> None:
            with contextlib.suppress(FileNotFoundError):
                if self.blobs.path(digest).stat().st_ino == inode:
                    self.blobs.delete(digest)

        await asyncio.to_thread(delete)
        log.error("blob %s no longer matches its digest: deleted, push it again", digest)

    async def delete_blob(self, request: Request, send: Send, params: dict[str, str]) -> None:
        await self.catalog.unlink_blob(params["name"], check_digest(params["digest"]))
        await respond(send, 202)

    async def start_upload(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name = params["name"]
        if params["uuid"]:
            raise BlobUploadInvalid("POST starts an upload at /v2/<name>/blobs/uploads/")
        mount, source = request.query.get("mount"), request.query.get("from")
        if mount is not None and await self._mount(name, check_digest(mount), source):
            await _created(send, name, mount)
            return
        digest = request.query.get("digest")
        if digest is not None:
            await self.uploads.put_whole(name, digest, request.body(), request.content_length())
            await _created(send, name, digest)
            return
        status = await self.uploads.start(name)
        if request.has_body():
            status = await self.uploads.append(name, status.uuid, request.body())
        await respond(send, 202, b"", _progress(status))

    async def _mount(self, name: str, digest: str, source: str | None) -> bool:
        """Links a blob from another repository; False means "upload it instead" (the spec's fallback)."""
        if source is not None:
            check_repository(source)
            if not await self.catalog.repository_has_blob(source, digest):
                return False
        try:
            await self.catalog.link_blob(name, digest)
        except BlobUnknown:
            return False
        return True

    async def upload_status(self, request: Request, send: Send, params: dict[str, str]) -> None:
        status = await self.uploads.status(params["name"], _upload_id(params))
        await respond(send, 204, b"", _progress(status))

    async def patch_upload(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name, upload_id = params["name"], _upload_id(params)
        start, end = _content_range(request.header(b"content-range"))
        try:
            status = await self.uploads.append(name, upload_id, request.body(), start, end)
        except RangeInvalid as exc:
            current = await self.uploads.status(name, upload_id)
            await render_error(send, exc, extra=_progress(current))
            return
        await respond(send, 202, b"", _progress(status))

    async def finish_upload(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name, upload_id = params["name"], _upload_id(params)
        digest = request.query.get("digest")
        if not digest:
            raise DigestInvalid("finishing an upload needs ?digest=sha256:<hex>")
        start, _ = _content_range(request.header(b"content-range"))
        await self.uploads.finish(name, upload_id, digest, request.body(), start)
        await _created(send, name, digest)

    async def cancel_upload(self, request: Request, send: Send, params: dict[str, str]) -> None:
        await self.uploads.cancel(params["name"], _upload_id(params))
        await respond(send, 204)


def _upload_id(params: dict[str, str]) -> str:
    upload_id = params["uuid"]
    if not UPLOAD_ID_RE.match(upload_id):
        raise BlobUploadUnknown(f"unknown upload {upload_id!r}", {"uuid": upload_id})
    return upload_id


def _progress(status: UploadStatus) -> Headers:
    last = max(status.offset - 1, 0)
    return [
        (b"location", f"/v2/{status.repository}/blobs/uploads/{status.uuid}".encode()),
        (b"range", f"0-{last}".encode()),
        (b"docker-upload-uuid", status.uuid.encode()),
    ]


async def _created(send: Send, name: str, digest: str) -> None:
    headers: Headers = [
        (b"location", f"/v2/{name}/blobs/{digest}".encode()),
        (b"docker-content-digest", digest.encode()),
    ]
    await respond(send, 201, b"", headers)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    match = _CONTENT_RANGE.match(value.strip())
    if match is None:
        raise RangeInvalid(f"malformed Content-Range {value!r}: expected <start>-<end>")
    return int(match[1]), int(match[2])


def _byte_range(value: str | None, size: int) -> tuple[int, int]:
    """The half-open byte range [start, end) a Range header asks for; the whole blob without one."""
    if value is None:
        return 0, size
    match = _RANGE.match(value.strip())
    if match is None:  # several ranges, or another unit: serve it all, as RFC 9110 allows
        return 0, size
    first, last = match[1], match[2]
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    elif last:
        start, end = max(size - int(last), 0), size
    else:
        return 0, size
    if start >= size or start >= end:
        raise RangeInvalid(f"range {value} is outside the blob's {size} bytes", {"size": size})
    return start, end


class _ClientGone(Exception):
    """The client hung up while a blob was on its way."""


class _Corrupt(Exception):
    """The bytes on disk do not hash to the blob's digest."""


def _read_checked(fd: int, size: int, expected: str) -> bytes:
    data = os.pread(fd, size, 0)
    if "sha256:" + hashlib.sha256(data).hexdigest() != expected:
        raise _Corrupt
    return data


async def _stream_while_connected(
    fd: int, start: int, end: int, receive: Receive, send: Send, expected: str | None
) -> bool | None:
    """Streams a blob, and stops reading the disk as soon as the client hangs up. With `expected` (a whole
    blob), sends no last chunk if the bytes do not hash to it. Answers whether they did (True, False), or
    None if nothing was checked (no `expected`, or the client left before the end)."""
    verdict: bool | None = None

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        raise _ClientGone

    try:
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch())
            try:
                if await stream_file(fd, start, end, send, expected) and expected is not None:
                    verdict = True
            finally:
                watcher.cancel()
    except* _ClientGone:
        pass
    except* _Corrupt:
        verdict = False
    return verdict


async def stream_file(fd: int, start: int, end: int, send: Send, expected: str | None) -> bool:
    """Sends bytes [start, end) of a file, reading (and hashing) the next chunk off the loop while this one
    goes out; True once all is sent."""
    loop = asyncio.get_running_loop()
    hasher = hashlib.sha256() if expected is not None else None

    def read(position: int) -> bytes:
        data = os.pread(fd, min(READ_CHUNK, end - position), position)
        if hasher is not None:
            hasher.update(data)
        return data

    position = start
    pending = loop.run_in_executor(None, read, position)
    try:
        while True:
            data = await pending
            position += len(data)
            more = position < end and bool(data)
            if more:
                pending = loop.run_in_executor(None, read, position)
            elif hasher is not None and "sha256:" + hasher.hexdigest() != expected:
                raise _Corrupt
            await send({"type": "http.response.body", "body": data, "more_body": more})
            if not more:
                return True
    finally:
        if not pending.done():
            await asyncio.wait([pending])
