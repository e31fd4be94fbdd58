"""The HTTP/1.1 core: answers leave in request order whenever they are ready, and a closing request closes."""

from __future__ import annotations

from typing import Any

from lambkin.http11.exchange import Reply, Request
from lambkin.http11.handler import HandlerConnection
from lambkin.http11.phases import Phase


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return False  # a refusal closes at once

    def get_extra_info(self, name: str) -> Any:
        return None


def _connection() -> tuple[HandlerConnection, _Transport, list[tuple[Request, Reply]]]:
    received: list[tuple[Request, Reply]] = []
    conn = HandlerConnection(lambda request, reply: received.append((request, reply)), lambda m, p: 1 << 20)
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, received


async def test_pipelined_answers_are_written_in_request_order() -> None:
    conn, transport, received = _connection()
    conn.data_received(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b?q=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
    )
    (first, first_reply), (second, second_reply) = received
    assert (first.method, first.path) == ("GET", "/a")
    assert (second.path, second.query, second.body) == ("/b", "q=1", b"hi")
    second_reply.send(202, b"second")
    assert transport.written == b""  # the first answer is still owed
    first_reply.send(200, b"first")
    assert transport.written.index(b"first") < transport.written.index(b"second")
    assert not transport.closed


async def test_repeated_headers_are_joined_and_names_lowercased() -> None:
    conn, _, received = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    ((request, _),) = received
    assert request.headers == {"x-a": "1,2"}


async def test_header_names_stay_right_past_the_names_kept() -> None:
    conn, _, received = _connection()
    for index in range(600):  # more distinct names than the connection keeps lowercased
        conn.data_received(f"GET / HTTP/1.1\r\nX-Name-{index}: {index}\r\nX-A: a\r\n\r\n".encode())
        received[-1][1].send(200)
    assert [request.headers for request, _ in received[-2:]] == [
        {"x-name-598": "598", "x-a": "a"},
        {"x-name-599": "599", "x-a": "a"},
    ]


async def test_connection_close_closes_after_its_answer() -> None:
    conn, transport, received = _connection()
    conn.data_received(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    ((_, reply),) = received
    reply.send(200, b"bye")
    assert transport.written.endswith(b"bye") and transport.closed


async def test_a_body_over_the_limit_is_dropped_and_flagged() -> None:
    received: list[tuple[Request, Reply]] = []
    conn = HandlerConnection(lambda request, reply: received.append((request, reply)), lambda m, p: 4)
    conn.connection_made(_Transport())  # type: ignore[arg-type]
    conn.data_received(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789")
    ((request, _),) = received
    assert request.truncated and request.size == 10 and request.body == b""


async def test_garbage_is_answered_400_and_closes() -> None:
    conn, transport, _ = _connection()
    conn.data_received(b"NOT HTTP AT ALL\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 400") and transport.closed
    assert conn.phase is Phase.CLOSED
