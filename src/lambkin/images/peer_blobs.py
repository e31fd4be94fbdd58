"""Blobs this node lacks, fetched by digest from a live peer that has them and verified while they stream to disk.

A node of a cluster keeps its own blobs; a blob pushed to another node (or pulled there) is fetched on
demand, by digest, from `/_lambkin/cluster/blobs/<digest>` of each live peer in turn. The bytes are hashed
as they are written to a staging file and adopted into the BlobStore only if they hash to the digest: a
peer that lacks the blob, is gone, breaks off or sends other bytes is passed over for the next one. On a
single node there are no peers, and a missing blob stays missing.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
from collections.abc import Sequence
from typing import Protocol

from lambkin.cluster.peers import PeerClient
from lambkin.images.blobs import BlobStore, check_digest, write_stream
from lambkin.images.layers import KeyedLock

log = logging.getLogger("lambkin.images")

BLOBS_PATH = "/_lambkin/cluster/blobs/"


class _Node(Protocol):
    @property
    def name(self) -> str: ...


class NodeView(Protocol):
    """Who is in the cluster (cluster.membership.Membership, as far as blobs read it)."""

    @property
    def name(self) -> str: ...

    def live(self) -> Sequence[_Node]: ...


def blob_path(digest: str) -> str:
    """The internal endpoint's path for one blob."""
    return BLOBS_PATH + check_digest(digest)


class PeerBlobs:
    """`ensure(digest)`: the blob is in this node's store afterwards, fetched from a peer if need be."""

    def __init__(
        self, blobs: BlobStore, nodes: NodeView | None = None, client: PeerClient | None = None
    ) -> None:
        self.blobs = blobs
        self.nodes = nodes
        self.client = client
        self._fetches = KeyedLock()

    def peers(self) -> list[str]:
        """The live nodes other than this one, by name: whom a missing blob is asked of, in turn."""
        if self.nodes is None or self.client is None:
            return []
        return sorted(node.name for node in self.nodes.live() if node.name != self.nodes.name)

    async def ensure(self, digest: str) -> bool:
        """Whether the blob is here, after fetching it from the first live peer that has it (False: none has
        it, or every copy offered was refused). Concurrent calls for one digest fetch it once."""
        check_digest(digest)
        if await asyncio.to_thread(self.blobs.exists, digest):
            return True
        async with self._fetches.hold(digest):
            if await asyncio.to_thread(self.blobs.exists, digest):
                return True
            for node in self.peers():
                if await self._fetch_from(node, digest):
                    return True
        return False

    async def _fetch_from(self, node: str, digest: str) -> bool:
        assert self.client is not None
        staged = self.blobs.new_staging_path()
        hasher = hashlib.sha256()
        try:
            answer = await self.client.request(node, "GET", blob_path(digest))
            if answer.status != 200:
                await answer.read()
                return False
            size = await write_stream(staged, 0, hasher, answer.stream())
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                log.error(
                    "node %s sent %d bytes hashing to %s for blob %s: refused", node, size, actual, digest
                )
                return False
            await asyncio.to_thread(self.blobs.adopt, staged, digest)
            log.info("blob %s (%d bytes) fetched from node %s", digest, size, node)
            return True
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # this node's own disk is full: no peer can help
            # The peer is gone or broke off: the next one may have it.
            log.warning("fetching blob %s from node %s failed: %s", digest, node, exc)
            return False
        finally:
            await asyncio.to_thread(staged.unlink, True)
