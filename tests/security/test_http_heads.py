"""A request head past the server's limits (ALB's: 16 KiB a line, 64 KiB a head) is refused with a 431."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import LambkinServer


def exchange(server: LambkinServer, head: bytes) -> bytes:
    """Sends `head` on a fresh connection and returns what the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)  # what the server does not read of an oversized head it drops before closing
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def health(*headers: bytes) -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"".join(headers) + b"\r\n"


def test_a_head_within_the_limits_is_served(server: LambkinServer) -> None:
    answer = exchange(
        server, health(b"X-Big: " + b"a" * 12_000 + b"\r\n", b"X-More: " + b"b" * 12_000 + b"\r\n")
    )
    assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "head",
    [
        health(b"X-Big: " + b"a" * 20_000 + b"\r\n"),
        health(*(b"X-%d: %s\r\n" % (i, b"v" * 8_000) for i in range(10))),
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["long-line", "large-head", "long-request-line"],
)
def test_a_head_past_the_limits_is_431(server: LambkinServer, head: bytes) -> None:
    answer = exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_a_header_without_end_is_cut_off(server: LambkinServer) -> None:
    answer = exchange(server, b"GET /health HTTP/1.1\r\nX-Endless: " + b"a" * 200_000)
    assert answer.startswith(b"HTTP/1.1 431")


# After the first request the front door hands a non-AWS connection (here /health's) to uvicorn's protocol:
# the heads of the requests that follow on it are held to the same limits.
@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A server whose heads must arrive within a second."""
    env = {"LAMBKIN_HEAD_DEADLINE": "1"}
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data", env=env).start()
    try:
        yield instance
    finally:
        instance.stop()


def kept_alive() -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def after_one(server: LambkinServer, head: bytes) -> bytes:
    """Sends a request on a fresh keep-alive connection, reads its answer, then sends `head` on the same
    connection; returns what the server answers to it before it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(kept_alive())
        first = b""
        while not first.endswith(b"}"):  # /health's JSON body, the whole first answer
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_second_head_within_the_limits_is_served(server: LambkinServer) -> None:
    answer = after_one(server, health(b"X-Big: " + b"a" * 12_000 + b"\r\n"))
    assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "head",
    [
        health(b"X-Big: " + b"a" * 20_000 + b"\r\n"),
        health(*(b"X-%d: %s\r\n" % (i, b"v" * 8_000) for i in range(10))),
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nX-Endless: " + b"a" * 200_000,
    ],
    ids=["long-line", "large-head", "long-request-line", "endless"],
)
def test_a_second_head_past_the_limits_is_431(server: LambkinServer, head: bytes) -> None:
    answer = after_one(server, head)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_a_second_head_too_slow_is_408(hasty: LambkinServer) -> None:
    answer = after_one(hasty, b"GET /health HTTP/1.1\r\nX-Slow: ")  # and nothing more
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_first_head_too_slow_is_408(hasty: LambkinServer) -> None:
    answer = exchange(hasty, b"GET /health HTTP/1.1\r\nX-Slow: ")
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
