"""Requests written to a peer as bytes on kept connections, answers handed back as the bytes they came in:
against a real socket server that answers what each test tells it to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lambkin.cluster.splice import Spliced, Splicer

REQUEST = b"POST /x HTTP/1.1\r\nhost: peer\r\ncontent-length: 2\r\n\r\n{}"
ANSWER = b"HTTP/1.1 200 OK\r\nx-amzn-requestid: r1\r\ncontent-length: 5\r\n\r\nhello"


class Peer:
    """A server that reads whole requests and writes `answers[i]` (bytes, a list of pieces, or None: no
    answer) for the i-th; counts its connections."""

    def __init__(self, answers: list[bytes | list[bytes] | None], close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            await self._answer(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length")
            )
            self.requests.append(head + await reader.readexactly(length))
            answer = self.answers[len(self.requests) - 1]
            if answer is None:
                continue
            for piece in answer if isinstance(answer, list) else [answer]:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)
            if self.close_after:
                return

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


_PEERS: list[Peer] = []


@pytest.fixture
async def splicer() -> AsyncIterator[Splicer]:
    splicer = Splicer()
    yield splicer
    splicer.close()
    while _PEERS:
        peer = _PEERS.pop()
        assert peer.server is not None
        peer.server.close()
        for writer in peer.writers:
            writer.close()
        await peer.server.wait_closed()
    await asyncio.sleep(0.05)  # (the servers' handlers end)


async def started(peer: Peer) -> Peer:
    peer.server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    _PEERS.append(peer)
    return peer


async def exchange(splicer: Splicer, peer: Peer, data: bytes = REQUEST, timeout_s: float = 5.0) -> Spliced:
    done: asyncio.Future[Spliced] = asyncio.get_running_loop().create_future()
    splicer.send("127.0.0.1", peer.port, data, done.set_result, timeout_s)
    return await asyncio.wait_for(done, 10)


async def test_the_answer_comes_back_as_it_came_and_the_connection_is_kept(splicer: Splicer) -> None:
    peer = await started(Peer([ANSWER, [ANSWER[:20], ANSWER[20:40], ANSWER[40:]]]))
    first = await exchange(splicer, peer)
    assert first == Spliced(ANSWER, 200, True)
    second = await exchange(splicer, peer)  # read in three pieces, handed back whole
    assert second == Spliced(ANSWER, 200, True)
    assert peer.requests == [REQUEST, REQUEST] and peer.connections == 1


async def test_a_chunked_answer_ends_where_its_last_chunk_does(splicer: Splicer) -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    peer = await started(Peer([[chunked[:50], chunked[50:]], ANSWER]))
    assert (await exchange(splicer, peer)).data == chunked
    assert (await exchange(splicer, peer)).data == ANSWER


async def test_an_answer_that_closes_its_connection_is_not_kept(splicer: Splicer) -> None:
    closing = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    peer = await started(Peer([closing, ANSWER], close_after=True))
    assert await exchange(splicer, peer) == Spliced(closing, 503, False)
    assert (await exchange(splicer, peer)).status == 200
    assert peer.connections == 2


async def test_a_kept_connection_the_peer_closed_is_a_stale_failure(splicer: Splicer) -> None:
    peer = await started(Peer([ANSWER, ANSWER]))
    await exchange(splicer, peer)
    await asyncio.sleep(0.05)
    for writer in peer.writers:  # the peer drops its idle connection; the splicer has not noticed yet
        writer.transport.abort()
    await asyncio.sleep(0)
    failed = await exchange(splicer, peer)
    assert failed.failure is not None and failed.stale  # the request may be sent again
    assert (await exchange(splicer, peer)).status == 200  # on a new connection


async def test_no_answer_in_time_or_no_peer_is_a_failure_not_to_send_again(splicer: Splicer) -> None:
    peer = await started(Peer([None]))
    slow = await exchange(splicer, peer, timeout_s=0.2)
    assert slow == Spliced(failure="no answer in time")  # it may have run there
    closed = await started(Peer([]))
    assert closed.server is not None
    port = closed.port
    closed.server.close()
    await closed.server.wait_closed()
    done: asyncio.Future[Spliced] = asyncio.get_running_loop().create_future()
    splicer.send("127.0.0.1", port, REQUEST, done.set_result, 5.0)
    refused = await asyncio.wait_for(done, 10)
    assert refused.failure is not None and refused.failure.startswith("cannot connect") and not refused.stale


async def test_one_timer_keeps_every_deadline_of_a_kept_connection(splicer: Splicer) -> None:
    slow = [ANSWER[i : i + 2] for i in range(0, len(ANSWER), 2)]  # about 0.3 s, a piece every 10 ms
    peer = await started(Peer([ANSWER, slow, None]))
    assert await exchange(splicer, peer, timeout_s=0.1) == Spliced(ANSWER, 200, True)
    # its timer, armed for 0.1 s, fires within this longer exchange and does not cut it
    assert await exchange(splicer, peer, timeout_s=5.0) == Spliced(ANSWER, 200, True)
    done: asyncio.Future[Spliced] = asyncio.get_running_loop().create_future()
    splicer.send("127.0.0.1", peer.port, REQUEST, done.set_result, 0.2)  # shorter than the timer armed now
    assert await asyncio.wait_for(done, 2) == Spliced(failure="no answer in time")
    assert peer.connections == 1


async def test_bytes_nobody_asked_for_end_the_connection(splicer: Splicer) -> None:
    peer = await started(Peer([ANSWER + ANSWER]))  # two answers to one request
    first = await exchange(splicer, peer)
    assert first == Spliced(failure="the peer sent bytes nobody asked for")  # never half of it
    peer.answers.append(ANSWER)
    assert (await exchange(splicer, peer)).status == 200
    assert peer.connections == 2  # the connection that said too much was not kept
