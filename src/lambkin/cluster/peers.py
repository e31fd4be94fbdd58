"""Node-to-node HTTP: requests to a peer by name, signed as this node, and the check of a peer's signature.

Every node holds the cluster's secret (made once, at the first node's start, in the shared database). A
request from one node to another carries the sender's name, the time and an HMAC-SHA256 over both plus the
method and the path; a receiver accepts it within a minute of its time. Only nodes sign: a client's key
never reaches /_lambkin/cluster/. Connections to each peer are kept alive between requests.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from lambkin.cluster.membership import Membership
from lambkin.cluster.wire import HOP_BY_HOP, Reply, WireClient, WireError
from lambkin.protocol.dialect import UNAVAILABLE
from lambkin.store import Connection, Store

NODE, TIME, SIGNATURE = "x-lambkin-node", "x-lambkin-node-time", "x-lambkin-node-signature"
WINDOW_S = 60.0
PREFIX = "/_lambkin/cluster"  # the nodes' own endpoints


def cluster_secret(db: Store) -> bytes:
    """The cluster's shared secret: the one in the database, or a new one if this is the first node."""

    def unit(conn: Connection) -> str:
        conn.execute(
            "INSERT INTO cluster_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
            (secrets.token_hex(32),),
        )
        row = conn.execute("SELECT secret FROM cluster_secret WHERE id = 1").fetchone()
        assert row is not None
        return str(row[0])

    return bytes.fromhex(db.run_sync(unit))


class PeerUnreachable(Exception):
    """The peer is not live, or did not answer: a retryable fault of the server (a domain error)."""

    code = UNAVAILABLE

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"node {node} unreachable: {reason}")
        self.node = node
        self.message = f"The node that serves this request ({node}) did not answer; retry it shortly."


class PeerAnswer(Protocol):
    """A peer's answer as the parts read it (PeerResponse; fakes in tests)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # names in lower case

    def stream(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...


class PeerClient(Protocol):
    """Node-authenticated requests to a peer by name, as the parts use them (Peers; fakes in tests)."""

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = ...,
        body: bytes | AsyncIterator[bytes] = ...,
        timeout_s: float | None = ...,
    ) -> PeerAnswer: ...


class PeerResponse:
    """A peer's answer, its body still to be read (`read()`) or streamed (`stream()`), once."""

    def __init__(self, node: str, reply: Reply) -> None:
        self.node = node
        self.status = reply.status
        self.headers: Mapping[str, str] = {
            k: v for k, v in reply.headers.items() if k not in HOP_BY_HOP
        }  # lower-case names, hop-by-hop ones left out
        self._reply = reply

    async def read(self) -> bytes:
        try:
            return await self._reply.read()
        except WireError as exc:
            raise PeerUnreachable(self.node, str(exc)) from None

    async def stream(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._reply.chunks():
                yield chunk
        except WireError as exc:
            raise PeerUnreachable(self.node, str(exc)) from None

    async def close(self) -> None:
        self._reply.release()


class Peers:
    """This node's requests to the others, and its check of theirs."""

    def __init__(self, membership: Membership, secret: bytes, timeout_s: float = 30.0) -> None:
        self.membership = membership
        self._secret = secret
        self.timeout_s = timeout_s
        self._client = WireClient()

    def _mac(self, node: str, stamp: str, method: str, path: str) -> str:
        text = f"{node}\n{stamp}\n{method.upper()}\n{path}".encode()
        return hmac.digest(self._secret, text, "sha256").hex()

    def sign(self, method: str, path: str) -> dict[str, str]:
        """The headers that prove this node sent `method path` (path without the query)."""
        node, stamp = self.membership.name, f"{time.time():.3f}"
        return {NODE: node, TIME: stamp, SIGNATURE: self._mac(node, stamp, method, path)}

    def verify(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        """The name of the node that signed this request (lower-case `headers`), or None if no node did."""
        node, stamp, given = headers.get(NODE), headers.get(TIME), headers.get(SIGNATURE)
        if not node or not stamp or not given:
            return None
        try:
            if abs(time.time() - float(stamp)) > WINDOW_S:
                return None
        except ValueError:
            return None
        return node if hmac.compare_digest(self._mac(node, stamp, method, path), given) else None

    def url_of(self, node: str) -> str:
        peer = self.membership.node(node)
        if peer is None:
            raise PeerUnreachable(node, "not a live node")
        return peer.url

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout_s: float | None = None,
    ) -> PeerResponse:
        """Sends `method target` (path?query) to `node`, signed; the answer's head, its body still to read.
        Raises PeerUnreachable when the node is not live or the connection fails."""
        return await self.send(self.url_of(node), method, target, headers, body, timeout_s)

    async def send(
        self,
        base_url: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout_s: float | None = None,
    ) -> PeerResponse:
        """As `request`, to the node at `base_url` (a Host header in `headers` is kept: a relayed client
        request's signature covers it)."""
        node, url_base = base_url, base_url.rstrip("/")
        signature = self.sign(method, target.partition("?")[0])
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:  # (the client leaves hop-by-hop headers out, and writes the signature's after the others)
            reply = await self._client.request(
                url_base, method, target, headers or {}, body, timeout_s, signature
            )
        except WireError as exc:
            raise PeerUnreachable(node, str(exc)) from exc
        return PeerResponse(node, reply)

    async def close(self) -> None:
        await self._client.close()
