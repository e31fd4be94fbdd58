"""A request's head is bounded: a line or a whole head past its limit is a 431, a head too slow a 408."""

from __future__ import annotations

import asyncio
from typing import Any

from lambkin.http11.connection import LINGER_S
from lambkin.http11.exchange import Reply, Request
from lambkin.http11.handler import HandlerConnection
from lambkin.http11.limits import HeadLimits
from lambkin.http11.phases import Phase

LIMITS = HeadLimits(line_bytes=100, head_bytes=300, deadline_s=30.0)


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.eof = False  # the answer is complete; what the client still sends is read and dropped
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name: str) -> Any:
        return None


class _Loop:
    """The loop's clock, moved by the test: timers run when `advance` passes their time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[asyncio.TimerHandle] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(self.now + delay, callback, args, asyncio.get_running_loop())
        self.timers.append(handle)
        return handle

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for handle in [h for h in self.timers if h.when() <= self.now and not h.cancelled()]:
            self.timers.remove(handle)
            handle._run()


def _connection() -> tuple[HandlerConnection, _Transport, _Loop, list[Request]]:
    received: list[Request] = []

    def handle(request: Request, reply: Reply) -> None:
        received.append(request)
        reply.send(200, b"ok")

    conn = HandlerConnection(handle, lambda m, p: 1 << 20, limits=LIMITS)
    loop = conn._loop = _Loop()  # type: ignore[assignment]
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, loop, received


async def test_a_refused_client_is_read_from_a_while_so_it_sees_the_refusal() -> None:
    conn, transport, loop, _ = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\nX-A: " + b"b" * 101)
    conn.data_received(b"b" * 1000)  # the rest of its head, dropped
    assert transport.written.startswith(b"HTTP/1.1 431") and transport.eof and not transport.closed
    loop.advance(LINGER_S)
    assert transport.closed


async def test_a_head_within_the_limits_is_answered() -> None:
    conn, transport, _, received = _connection()
    conn.data_received(b"GET /" + b"a" * 70 + b" HTTP/1.1\r\nX-A: " + b"b" * 80 + b"\r\n\r\n")
    assert len(received) == 1 and transport.written.startswith(b"HTTP/1.1 200")


async def test_a_long_header_line_is_431_and_closes() -> None:
    conn, transport, _, received = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\nX-A: " + b"b" * 101 + b"\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert transport.eof and conn.phase is Phase.CLOSED and received == []


async def test_a_long_request_line_is_431() -> None:
    conn, transport, _, _ = _connection()
    conn.data_received(b"GET /" + b"a" * 120 + b" HTTP/1.1\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 431")


async def test_many_short_lines_past_the_head_limit_are_431() -> None:
    conn, transport, _, received = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 40) for i in range(10)))
    assert transport.written.startswith(b"HTTP/1.1 431") and received == []


async def test_one_line_dribbled_without_end_is_cut_off_at_the_head_limit() -> None:
    conn, transport, _, _ = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\nX-A: ")
    for _ in range(40):
        if transport.eof:
            break
        conn.data_received(b"b" * 10)
    assert transport.written.startswith(b"HTTP/1.1 431") and transport.eof


async def test_a_head_still_arriving_at_its_deadline_is_408() -> None:
    conn, transport, loop, received = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\n")
    for _ in range(29):
        loop.advance(1.0)
        conn.data_received(b"X: y\r\n")  # a byte now and then keeps no head alive
    assert not transport.eof
    loop.advance(1.0)
    assert transport.written.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and transport.eof
    assert received == []


async def test_the_deadline_is_per_head_not_per_connection() -> None:
    conn, transport, loop, received = _connection()
    for _ in range(3):
        conn.data_received(b"GET / HTTP/1.1\r\n")
        loop.advance(20.0)
        conn.data_received(b"\r\n")
    loop.advance(100.0)
    assert len(received) == 3 and not transport.eof
