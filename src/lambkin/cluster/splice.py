"""Requests written to a peer as bytes, and the peer's answers handed back as the bytes they came in.

A plain synchronous Invoke the front door relays (api/invoke_relay.py) needs nothing of the relaying node but
its signature: the request goes to the peer as the client sent it, and the peer's answer, which is the
client's answer already (its status, request id, payload), comes back as it is. So neither side is parsed
into objects and rebuilt: httptools reads the answer only to find where it ends and whether the connection
stays open. There is no task and no future per exchange either; it is a few callbacks of the connection's
protocol, and `done` is called once, with the answer or with why none came. A new connection to a peer is
the one step that waits, on a task of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httptools

from lambkin.watchdog import Watchdog

IDLE_PER_PEER = 32
CONNECT_TIMEOUT_S = 2.0
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Spliced:
    """How an exchange ended: the answer's bytes (`status` and whether the peer keeps the connection), or
    `failure`: no whole answer came. `stale`: the failure was a kept connection the peer had closed before
    anything of an answer came back, so the request may be sent again."""

    data: bytes = b""
    status: int = 0
    keep_alive: bool = False
    failure: str | None = None
    stale: bool = False

    def has_header(self, name: bytes) -> bool:
        """Whether the answer's head has the header `name` (lower case)."""
        head = self.data[: self.data.find(_HEAD_END) + 2].lower()
        return b"\r\n" + name + b":" in head


Done = Callable[[Spliced], None]


class _Pipe(asyncio.Protocol):
    """One connection to a peer: one exchange at a time, then back to its peer's idle list if kept alive."""

    def __init__(self, splicer: Splicer, key: str, loop: asyncio.AbstractEventLoop) -> None:
        self._splicer, self._key, self._loop = splicer, key, loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._chunks: list[bytes] = []
        self._done: Done | None = None
        self._watchdog = Watchdog(loop, self._overdue)  # the exchange in flight's deadline
        self._begun = 0  # answers begun in this exchange (more than one: the peer said too much)
        self._complete = False
        self._status = 0
        self._keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        if self._done is None:
            self._fail("the peer sent bytes nobody asked for")
            return
        self._chunks.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"the peer's answer is not HTTP: {exc}")
            return
        if self._complete:
            self._answered()

    def eof_received(self) -> None:
        self._fail("the peer closed the connection", closed=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the connection broke: {exc}" if exc else "the peer closed the connection", closed=True)

    # httptools: where the answer ends
    def on_message_begin(self) -> None:
        self._begun += 1

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()

    def on_message_complete(self) -> None:  # (the parser's state is the next answer's once this returns)
        self._complete = True
        self._keep_alive = self._keep_alive and self._parser.should_keep_alive()

    def _answered(self) -> None:
        """The answer is in (once the read that ended it is parsed whole: nothing may follow it)."""
        if self._begun > 1:
            self._fail("the peer sent bytes nobody asked for")
            return
        done, self._done = self._done, None
        assert done is not None
        chunks, self._chunks = self._chunks, []
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        answer = Spliced(data, self._status, self._keep_alive)
        if self._keep_alive and not self.closed:
            self._reused = True
            self._splicer._idle(self._key, self)
        else:
            self.close()
        done(answer)

    # the exchange
    def send(self, data: bytes, done: Done, timeout_s: float) -> None:
        assert self.transport is not None and self._done is None
        self._done, self._chunks, self._begun, self._complete = done, [], 0, False
        self._watchdog.arm(self._loop.time() + timeout_s)
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        self._watchdog.cancel()
        if self.transport is not None:
            self.transport.close()

    def _fail(self, why: str, closed: bool = False) -> None:
        """Ends the exchange in flight (if any) without an answer; stale if the peer `closed` a kept
        connection before anything of it came back."""
        stale = closed and self._reused and not self._chunks and self._done is not None
        self.close()
        done, self._done = self._done, None
        if done is not None:
            done(Spliced(failure=why, stale=stale))

    def _overdue(self) -> None:
        if self._done is not None:  # (the timer outlives the exchange it was armed for)
            self._fail("no answer in time")


class Splicer:
    """Exchanges with peers by host and port, over connections kept between them."""

    def __init__(self) -> None:
        self._pools: dict[str, list[_Pipe]] = {}
        self._connecting: set[asyncio.Task[None]] = set()

    def send(self, host: str, port: int, data: bytes, done: Done, timeout_s: float) -> None:
        """Writes `data` (a whole request) to the peer; `done` gets its answer, or why there is none (no
        answer within `timeout_s`, the connection refused or broken)."""
        key = f"{host}:{port}"
        pool = self._pools.get(key)
        while pool:
            pipe = pool.pop()
            if not pipe.closed:
                pipe.send(data, done, timeout_s)
                return
        task = asyncio.get_running_loop().create_task(self._connect(key, host, port, data, done, timeout_s))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(
        self, key: str, host: str, port: int, data: bytes, done: Done, timeout_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        pipe = _Pipe(self, key, loop)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await loop.create_connection(lambda: pipe, host, port)
        except (OSError, TimeoutError) as exc:
            done(Spliced(failure=f"cannot connect: {exc or type(exc).__name__}"))
            return
        except asyncio.CancelledError:
            done(Spliced(failure="the node is stopping"))
            raise
        pipe.send(data, done, timeout_s)

    def _idle(self, key: str, pipe: _Pipe) -> None:
        pool = self._pools.setdefault(key, [])
        if len(pool) < IDLE_PER_PEER:
            pool.append(pipe)
        else:
            pipe.close()

    def close(self) -> None:
        for task in self._connecting:
            task.cancel()
        for pool in self._pools.values():
            for pipe in pool:
                pipe.close()
        self._pools.clear()
