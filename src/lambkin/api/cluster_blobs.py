"""The internal endpoint a peer fetches a blob from: `GET|HEAD /_lambkin/cluster/blobs/<digest>`, node-authenticated.

The bytes go out as stored; the fetching node hashes them as they arrive and keeps them only if they match
the digest (images/peer_blobs.py), so a copy damaged on this node's disk is refused there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from lambkin.api.asgi import Receive, Scope, Send, respond
from lambkin.api.registry_blobs import stream_file
from lambkin.images.blobs import DIGEST_RE, BlobStore
from lambkin.images.peer_blobs import BLOBS_PATH


class ClusterBlobs:
    """Serves this node's blobs to its peers (the cluster mount has checked the request is a node's)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        digest = path.removeprefix(BLOBS_PATH)
        if method not in ("GET", "HEAD"):
            await respond(send, 405, b"", [(b"allow", b"GET, HEAD")])
            return
        if not path.startswith(BLOBS_PATH) or not DIGEST_RE.match(digest):
            await respond(send, 404)
            return
        try:
            fd = await asyncio.to_thread(os.open, self.blobs.path(digest), os.O_RDONLY)
        except FileNotFoundError:
            await respond(send, 404)
            return
        try:
            size = os.fstat(fd).st_size
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(size).encode()),
                (b"docker-content-digest", digest.encode()),
            ]
            if method == "HEAD" or size == 0:
                await respond(send, 200, b"", headers)
                return
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            with contextlib.suppress(ConnectionError):  # the peer hung up: it tries another
                await stream_file(fd, 0, size, send, None)
        finally:
            os.close(fd)
