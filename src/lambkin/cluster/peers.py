"""Node-to-node HTTP: requests to a peer by name, signed as this node, and the check of a peer's signature.

Every node holds the cluster's secret (made once, at the first node's start, in the shared database). A
request from one node to another carries the sender's name, the time and an HMAC-SHA256 over both plus the
method and the path; a receiver accepts it within a minute of its time. Only nodes sign: a client's key
never reaches /_lambkin/cluster/. Connections to each peer are kept alive between requests.

A signature is made once a second per method and path, and a receiver remembers the ones it checked: an
HMAC costs microseconds, and a relayed Invoke's whole hop is meant to cost not much more. Its time is whole
seconds, which changes nothing of what it proves (it covers no body, so any signature can be replayed
within its minute however it was made).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from lambkin.cluster.membership import Membership
from lambkin.cluster.splice import Done, Spliced, Splicer
from lambkin.cluster.wire import HOP_BY_HOP, Reply, WireClient, WireError, address
from lambkin.protocol.dialect import UNAVAILABLE
from lambkin.store import Connection, Store

NODE, TIME, SIGNATURE = "x-lambkin-node", "x-lambkin-node-time", "x-lambkin-node-signature"
WINDOW_S = 60.0
_KEPT = 1024  # signatures made or checked, remembered (all forgotten at once past it)
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
        self._splicer = Splicer()
        self._signed: dict[tuple[str, str], tuple[str, dict[str, str], bytes]] = {}  # by (method, path)
        self._checked: set[tuple[str, str, str, str, str]] = set()  # signatures that held

    def _mac(self, node: str, stamp: str, method: str, path: str) -> str:
        text = f"{node}\n{stamp}\n{method.upper()}\n{path}".encode()
        return hmac.digest(self._secret, text, "sha256").hex()

    def sign(self, method: str, path: str) -> dict[str, str]:
        """The headers that prove this node sent `method path` (path without the query)."""
        return dict(self._signature(method, path)[1])

    def _signature(self, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
        """This second's signature of `method path`: its time, its headers, and their lines as bytes."""
        stamp = str(int(time.time()))
        key = (method, path)
        signed = self._signed.get(key)
        if signed is None or signed[0] != stamp:
            if len(self._signed) >= _KEPT:
                self._signed.clear()
            node = self.membership.name
            headers = {NODE: node, TIME: stamp, SIGNATURE: self._mac(node, stamp, method, path)}
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
            signed = self._signed[key] = (stamp, headers, lines)
        return signed

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
        key = (node, stamp, method, path, given)
        if key in self._checked:
            return node
        if not hmac.compare_digest(self._mac(node, stamp, method, path), given):
            return None
        if len(self._checked) >= _KEPT:
            self._checked.clear()
        self._checked.add(key)
        return node

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

    def splice(
        self,
        node: str,
        method: str,
        target: str,
        head: bytes | Mapping[str, str],
        body: bytes,
        done: Done,
        timeout_s: float,
    ) -> None:
        """Sends `method target` to `node`, signed, with `head`: the client's head as it came (the request
        line to the blank line, its content-length `body`'s), or its headers (lower-case names); none of them
        hop-by-hop, as they are written as they are. `done` gets the answer as the bytes it came in
        (cluster/splice.py), or why there is none."""
        peer = self.membership.node(node)
        if peer is None:
            done(Spliced(failure="not a live node"))
            return
        host, port = address(peer.url)
        signature = self._signature(method, target.partition("?")[0])[2]
        if isinstance(head, bytes):
            data = head[:-2] + signature + b"\r\n" + body
        else:
            lines = [f"{method} {target} HTTP/1.1\r\n"]
            lines += [f"{name}: {value}\r\n" for name, value in head.items() if name != "content-length"]
            lines.append(f"content-length: {len(body)}\r\n")
            data = "".join(lines).encode("latin-1") + signature + b"\r\n" + body
        self._splicer.send(host, port, data, done, timeout_s)

    async def close(self) -> None:
        self._splicer.close()
        await self._client.close()
