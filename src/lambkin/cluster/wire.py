"""HTTP/1.1 between nodes: kept-alive connections per peer, requests written whole, answers read by httptools.

A forwarded invoke is one request on the hot path, so the hop costs what HTTP/1.1 costs and no more: the
head is written in one piece with the body (or the body streamed chunked), the answer's head parsed by
httptools (the parser uvicorn uses), the body handed on as it arrives. A connection goes back to its peer's
idle list only once its answer was read to the end and both sides keep it alive; one that was idle and
turns out closed by the peer is replaced once, when the request can be sent again (a body of bytes).

Connections are kept per peer and per kind of request, the kind being the path's first segment: a server
may give a connection to another protocol for good from some request on (lambkin's front door hands every
request it does not answer itself, a cluster endpoint or the registry, to its ASGI app), and a relayed
Invoke sent on such a connection would take the slow way there ever after.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httptools

IDLE_PER_PEER = 32
READ_BYTES = 65536
CONNECT_TIMEOUT_S = 2.0


class WireError(Exception):
    """The peer could not be reached, broke the connection, or did not answer in time."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reused = False

    def close(self) -> None:
        self.writer.close()


class _Answer:
    """httptools' callbacks for one response: its status, head and body pieces."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.head_done = False
        self.done = False
        self.keep_alive = False  # as the answer's head says (httptools forgets it once the answer ends)
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]},{text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.done = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()


class Reply:
    """A peer's answer: status and head now, the body as it arrives (`chunks()`, read once)."""

    def __init__(self, client: WireClient, key: str, conn: _Connection, answer: _Answer, timeout_s: float):
        self.status = answer.parser.get_status_code()
        self.headers = answer.headers
        self._client, self._key, self._conn, self._answer = client, key, conn, answer
        self._timeout_s = timeout_s
        self._finished = False

    async def read(self) -> bytes:
        """The whole body: at once when it came with the head (a small answer), else as it arrives."""
        answer = self._answer
        if not answer.done:
            return b"".join([chunk async for chunk in self.chunks()])
        body, answer.chunks = b"".join(answer.chunks), []
        self._finished = True
        self.release()
        return body

    async def chunks(self) -> AsyncIterator[bytes]:
        answer, conn = self._answer, self._conn
        try:
            while True:
                if answer.chunks:
                    pending, answer.chunks = answer.chunks, []
                    for chunk in pending:
                        yield chunk
                if answer.done:
                    break
                async with asyncio.timeout(self._timeout_s):
                    data = await conn.reader.read(READ_BYTES)
                if not data:
                    raise WireError("the peer closed the connection mid-answer")
                answer.parser.feed_data(data)
            self._finished = True
        except httptools.HttpParserError as exc:
            raise WireError(f"the peer's answer is not HTTP: {exc}") from None
        finally:
            self.release()

    def release(self) -> None:
        """The connection back to the idle list (answer read whole, kept alive) or closed."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if self._finished and self._answer.keep_alive:
            self._client._idle(self._key, conn)
        else:
            conn.close()


class WireClient:
    """Requests to peers by base URL (http://host:port), over connections kept between requests."""

    def __init__(self) -> None:
        self._pools: dict[str, list[_Connection]] = {}  # by peer and kind of request (see _kind)
        self._addresses: dict[str, tuple[str, int]] = {}  # base URL -> host, port

    def _address(self, base_url: str) -> tuple[str, int]:
        address = self._addresses.get(base_url)
        if address is None:
            parts = urlsplit(base_url)
            address = self._addresses[base_url] = (parts.hostname or "127.0.0.1", parts.port or 80)
        return address

    def _idle(self, key: str, conn: _Connection) -> None:
        pool = self._pools.setdefault(key, [])
        if len(pool) < IDLE_PER_PEER:
            conn.reused = True
            pool.append(conn)
        else:
            conn.close()

    async def _connect(self, key: str, host: str, port: int) -> _Connection:
        pool = self._pools.get(key)
        while pool:
            conn = pool.pop()
            if not conn.reader.at_eof():
                return conn
            conn.close()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            raise WireError(f"cannot connect: {exc or type(exc).__name__}") from None
        return _Connection(reader, writer)

    async def request(
        self,
        base_url: str,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | AsyncIterator[bytes],
        timeout_s: float,
    ) -> Reply:
        """Sends the request, returns once the answer's head is in (WireError if it never comes)."""
        host, port = self._address(base_url)
        key = f"{host}:{port}{_kind(target)}"
        for attempt in range(2):
            conn = await self._connect(key, host, port)
            try:
                return await self._exchange(conn, key, method, target, host, port, headers, body, timeout_s)
            except (OSError, WireError, TimeoutError, httptools.HttpParserError) as exc:
                conn.close()
                stale = conn.reused and isinstance(exc, _Closed) and isinstance(body, bytes)
                if attempt == 0 and stale:
                    continue  # an idle connection the peer had closed: once more on a fresh one
                if isinstance(exc, TimeoutError):
                    raise WireError("no answer in time") from None
                raise WireError(str(exc) or type(exc).__name__) from None
        raise AssertionError("unreachable")

    async def _exchange(
        self,
        conn: _Connection,
        key: str,
        method: str,
        target: str,
        host: str,
        port: int,
        headers: Mapping[str, str],
        body: bytes | AsyncIterator[bytes],
        timeout_s: float,
    ) -> Reply:
        lines = [f"{method} {target} HTTP/1.1"]
        given = {name.lower() for name in headers}
        if "host" not in given:
            lines.append(f"host: {host}:{port}")
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length"]
        streamed = not isinstance(body, bytes)
        lines.append("transfer-encoding: chunked" if streamed else f"content-length: {len(body)}")  # type: ignore[arg-type]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        writer = conn.writer
        if isinstance(body, bytes):
            writer.write(head + body)
        else:
            writer.write(head)
            async for chunk in body:
                if chunk:
                    writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        answer = _Answer()
        async with asyncio.timeout(timeout_s):
            while not answer.head_done:
                data = await conn.reader.read(READ_BYTES)
                if not data:
                    raise _Closed("the peer closed the connection")
                answer.parser.feed_data(data)
        if method == "HEAD":  # a head and no body, whatever its content-length says: not reused after
            answer.done, answer.keep_alive = True, False
        return Reply(self, key, conn, answer, timeout_s)

    async def close(self) -> None:
        for pool in self._pools.values():
            for conn in pool:
                with contextlib.suppress(Exception):
                    conn.close()
        self._pools.clear()


def _kind(target: str) -> str:
    """The kind of request a connection is kept for: its path's first segment (`/2015-03-31`, `/_lambkin`)."""
    path = target.partition("?")[0]
    cut = path.find("/", 1)
    return path if cut < 0 else path[:cut]


class _Closed(WireError):
    """The peer closed the connection before answering."""
