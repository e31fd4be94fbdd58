"""HTTP/1.1 between nodes: kept-alive connections per peer, requests written whole, answers read by httptools.

A forwarded invoke is one request on the hot path, so the hop costs what HTTP/1.1 costs and no more: the
head is built in one pass (hop-by-hop headers left out, the node's signature added) and written in one
piece with the body (or the body streamed chunked); each connection is an asyncio protocol whose reads go
straight into httptools (the parser uvicorn uses), with no stream buffer in between, and the body is handed
on as it arrives (reading pauses while too much of it waits for its reader). A connection goes back to
its peer's idle list only once its answer was read to the end and both sides keep it alive; one that was
idle and turns out closed by the peer is replaced once, when the request can be sent again (a body of
bytes).

Connections are kept per peer and per kind of request, the kind being the path's first segment: a server
may give a connection to another protocol for good from some request on (lambkin's front door hands every
request it does not answer itself, a cluster endpoint or the registry, to its ASGI app), and a relayed
Invoke sent on such a connection would take the slow way there ever after.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_PER_PEER = 32
BUFFERED_BYTES = 262144  # an answer's body read ahead of its reader before reading pauses
CONNECT_TIMEOUT_S = 2.0
# headers that concern one connection only, never passed on
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "expect",
    }
)
_FRAMING = HOP_BY_HOP | {"content-length"}  # a request's headers this client writes itself, or leaves out
_NONE: Mapping[str, str] = {}


class WireError(Exception):
    """The peer could not be reached, broke the connection, or did not answer in time."""


class _Connection(asyncio.Protocol):
    """One connection to a peer. What it reads goes straight into the parser of the answer awaited; `wait()`
    returns once something happened: bytes parsed, the end of the connection, or the time up."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.reused = False
        self.answer: _Answer | None = None  # the one being read
        self.ended: WireError | None = None  # why the connection is of no more use
        self._event: asyncio.Future[None] | None = None  # a wait()
        self._writable: asyncio.Future[None] | None = None  # a streamed body waiting for the peer to read
        self._reading = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None or answer.done:
            self._end(WireError("the peer sent bytes nobody asked for"))
            self.close()
            return
        try:
            answer.feed(data)
        except httptools.HttpParserError as exc:
            self._end(WireError(f"the peer's answer is not HTTP: {exc}"))
            self.close()
            return
        if answer.buffered > BUFFERED_BYTES and self._reading and self.transport is not None:
            self._reading = False
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> None:
        self._end(_Closed("the peer closed the connection"))

    def connection_lost(self, exc: Exception | None) -> None:
        # a reset is not a close: the peer may have taken the request (so it is not sent again)
        self._end(
            WireError(f"the connection broke: {exc}") if exc else _Closed("the peer closed the connection")
        )
        self.resume_writing()  # a streamed body waiting to be written sees the end

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # what the client does with it
    def write(self, data: bytes) -> None:
        if self.ended is not None:
            raise self.ended
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self) -> None:
        """Until the peer has read enough of what was written to write more."""
        if self._writable is not None:
            await self._writable
        if self.ended is not None:
            raise self.ended

    def read_on(self) -> None:
        """The answer's buffered body was taken: read more."""
        if not self._reading and self.transport is not None:
            self._reading = True
            self.transport.resume_reading()

    async def wait(self, deadline: float) -> None:
        """Until something is read or the connection ends (TimeoutError at `deadline`, loop time)."""
        event = self._event = self.loop.create_future()
        timer = self.loop.call_at(deadline, _expire, event)
        try:
            await event
        finally:
            timer.cancel()
            self._event = None

    def close(self) -> None:
        if self.ended is None:
            self.ended = WireError("closed")
        if self.transport is not None:
            self.transport.close()

    def _end(self, why: WireError) -> None:
        if self.ended is None:
            self.ended = why
        self._wake()

    def _wake(self) -> None:
        event = self._event
        if event is not None and not event.done():
            event.set_result(None)


def _expire(event: asyncio.Future[None]) -> None:
    if not event.done():
        event.set_exception(TimeoutError())


class _Answer:
    """httptools' callbacks for one response: its status, head and body pieces."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.buffered = 0  # bytes in chunks
        self.head_done = False
        self.done = False
        self.keep_alive = False  # as the answer's head says (httptools forgets it once the answer ends)
        self.parser = httptools.HttpResponseParser(self)

    def feed(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]},{text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        self.done = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()

    def take(self) -> list[bytes]:
        chunks, self.chunks, self.buffered = self.chunks, [], 0
        return chunks


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
        chunks = answer.take()
        self._finished = True
        self.release()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        answer, conn = self._answer, self._conn
        try:
            while answer.chunks or not answer.done:
                if answer.chunks:  # (more may come while they are taken)
                    pending = answer.take()
                    conn.read_on()
                    for chunk in pending:
                        yield chunk
                    continue
                if conn.ended is not None:
                    raise WireError(f"the answer was cut short: {conn.ended}")
                try:
                    await conn.wait(conn.loop.time() + self._timeout_s)
                except TimeoutError:
                    raise WireError("no more of the answer in time") from None
            self._finished = True
        finally:
            self.release()

    def release(self) -> None:
        """The connection back to the idle list (answer read whole, kept alive) or closed."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        conn.answer = None
        if self._finished and self._answer.keep_alive and conn.ended is None:
            conn.read_on()  # (paused by the answer's last bytes, it would never read the next)
            self._client._idle(self._key, conn)
        else:
            conn.close()


class WireClient:
    """Requests to peers by base URL (http://host:port), over connections kept between requests."""

    def __init__(self) -> None:
        self._pools: dict[str, list[_Connection]] = {}  # by peer and kind of request (see _kind)

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
            if conn.ended is None:
                return conn
            conn.close()
        loop = asyncio.get_running_loop()
        conn = _Connection(loop)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await loop.create_connection(lambda: conn, host, port)
        except (OSError, TimeoutError) as exc:
            raise WireError(f"cannot connect: {exc or type(exc).__name__}") from None
        return conn

    async def request(
        self,
        base_url: str,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | AsyncIterator[bytes],
        timeout_s: float,
        extra: Mapping[str, str] = _NONE,
    ) -> Reply:
        """Sends the request with `headers` (hop-by-hop ones left out: this client frames the request
        itself) and `extra` (lower-case names; they replace any of `headers`); returns once the answer's
        head is in (WireError if it never comes)."""
        host, port = address(base_url)
        key = f"{host}:{port}{_kind(target)}"
        for attempt in range(2):
            conn = await self._connect(key, host, port)
            try:
                return await self._exchange(
                    conn, key, method, target, host, port, headers, extra, body, timeout_s
                )
            except BaseException as exc:
                conn.close()
                if not isinstance(exc, (OSError, WireError, TimeoutError)):
                    raise  # (cancelled)
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
        extra: Mapping[str, str],
        body: bytes | AsyncIterator[bytes],
        timeout_s: float,
    ) -> Reply:
        parts = [f"{method} {target} HTTP/1.1\r\n"]
        has_host = False
        for name, value in headers.items():
            lower = name.lower()
            if lower in _FRAMING or lower in extra:
                continue
            has_host = has_host or lower == "host"
            parts.append(f"{name}: {value}\r\n")
        parts += [f"{name}: {value}\r\n" for name, value in extra.items()]
        if not has_host:
            parts.append(f"host: {host}:{port}\r\n")
        if isinstance(body, bytes):
            parts.append(f"content-length: {len(body)}\r\n\r\n")
        else:
            parts.append("transfer-encoding: chunked\r\n\r\n")
        head = "".join(parts).encode("latin-1")
        answer = conn.answer = _Answer()
        if isinstance(body, bytes):
            conn.write(head + body)
        else:
            conn.write(head)
            async for chunk in body:
                if chunk:
                    conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await conn.drain()
            conn.write(b"0\r\n\r\n")
        deadline = conn.loop.time() + timeout_s
        while not answer.head_done:
            if conn.ended is not None:
                raise conn.ended
            await conn.wait(deadline)
        if method == "HEAD":  # a head and no body, whatever its content-length says: not reused after
            answer.done, answer.keep_alive = True, False
        return Reply(self, key, conn, answer, timeout_s)

    async def close(self) -> None:
        for pool in self._pools.values():
            for conn in pool:
                with contextlib.suppress(Exception):
                    conn.close()
        self._pools.clear()


@functools.lru_cache(maxsize=256)
def address(base_url: str) -> tuple[str, int]:
    """The host and port of a peer's base URL (http://host:port)."""
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _kind(target: str) -> str:
    """The kind of request a connection is kept for: its path's first segment (`/2015-03-31`, `/_lambkin`)."""
    path = target.partition("?")[0]
    cut = path.find("/", 1)
    return path if cut < 0 else path[:cut]


class _Closed(WireError):
    """The peer closed the connection before answering."""
