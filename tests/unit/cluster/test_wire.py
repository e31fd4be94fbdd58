"""The nodes' HTTP/1.1 client against a real socket server: kept-alive reuse (per kind of request), streamed
bodies both ways, an idle connection the peer closed replaced, a peer that never answers."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from lambkin.cluster.wire import WireClient, WireError


class Server:
    """Answers every request with its method, path and body; counts connections."""

    def __init__(self, close_after: bool = False, silent: bool = False) -> None:
        self.connections = 0
        self.close_after = close_after
        self.silent = silent
        self.writers: list[asyncio.StreamWriter] = []

    def stop(self, listener: asyncio.Server) -> None:
        listener.close()
        for writer in self.writers:
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                fields: dict[str, str] = {}
                for line in filter(None, lines[1:]):
                    name, value = line.split(": ", 1)
                    key = name.lower()
                    fields[key] = f"{fields[key]},{value}" if key in fields else value
                if "content-length" in fields:
                    body = await reader.readexactly(int(fields["content-length"]))
                else:  # chunked
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                if self.silent:
                    await asyncio.sleep(3600)
                answer = f"{method} {path} {fields.get('x-who', '')} ".encode() + body
                writer.write(
                    b"HTTP/1.1 200 OK\r\nx-answer: yes\r\ntransfer-encoding: chunked\r\n\r\n"
                    + b"%x\r\n%b\r\n" % (len(answer), answer)
                    + b"0\r\n\r\n"
                )
                await writer.drain()
                if self.close_after:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
        except asyncio.CancelledError:
            writer.close()
            raise


async def _serve(server: Server) -> tuple[asyncio.Server, str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    return listener, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[tuple[WireClient, str]]:
    """A client, and the URL of `server` listening; both closed after."""
    listener, url = await _serve(server)
    client = WireClient()
    try:
        yield client, url
    finally:
        await client.close()
        server.stop(listener)


async def test_requests_reuse_one_kept_alive_connection() -> None:
    server = Server()
    async with serving(server) as (client, url):
        for i in range(3):
            reply = await client.request(url, "POST", f"/p/{i}", {"x-who": "n1"}, b"body", 5)
            assert reply.status == 200 and reply.headers["x-answer"] == "yes"
            assert b"".join([c async for c in reply.chunks()]) == f"POST /p/{i} n1 body".encode()
    assert server.connections == 1


async def test_extra_headers_replace_the_request_s_own() -> None:
    """A node's signature is written over whatever a relayed client request claimed."""
    async with serving(Server()) as (client, url):
        reply = await client.request(url, "POST", "/p", {"X-Who": "client"}, b"", 5, {"x-who": "node"})
        assert await reply.read() == b"POST /p node "


async def test_requests_of_another_kind_keep_connections_of_their_own() -> None:
    """A cluster endpoint's connection may have been handed to the peer's ASGI app for good: an Invoke is
    never sent on it."""
    server = Server()
    async with serving(server) as (client, url):
        for target in ("/_lambkin/cluster/invoke", "/2015-03-31/functions/f/invocations", "/_lambkin/x"):
            reply = await client.request(url, "POST", target, {}, b"", 5)
            await reply.read()
    assert server.connections == 2


async def test_a_streamed_body_arrives_whole() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two"):
            yield part

    async with serving(Server()) as (client, url):
        reply = await client.request(url, "PUT", "/s", {}, parts(), 5)
        assert b"".join([c async for c in reply.chunks()]) == b"PUT /s  one two"


async def test_a_large_answer_arrives_whole_and_its_connection_is_reused() -> None:
    server = Server()
    body = bytes(range(256)) * 8192  # 2 MiB: past what is read ahead of the reader
    async with serving(server) as (client, url):
        for _ in range(2):
            reply = await client.request(url, "POST", "/big", {}, body, 5)
            received = 0
            async for chunk in reply.chunks():
                received += len(chunk)
                await asyncio.sleep(0)
            assert received == len(b"POST /big  ") + len(body)
    assert server.connections == 1


async def test_an_answer_read_whole_once_it_is_all_in_leaves_its_connection_reading() -> None:
    server = Server()
    body = b"x" * 300_000  # its last bytes cross what is read ahead of the reader
    async with serving(server) as (client, url):
        reply = await client.request(url, "POST", "/big", {}, body, 5)
        await asyncio.sleep(0.2)  # all of it in
        assert len(await reply.read()) == len(b"POST /big  ") + len(body)
        reply = await client.request(url, "POST", "/big", {}, b"next", 2)
        assert await reply.read() == b"POST /big  next"
    assert server.connections == 1


async def test_an_idle_connection_the_peer_closed_is_replaced() -> None:
    server = Server(close_after=True)
    async with serving(server) as (client, url):
        for _ in range(2):
            reply = await client.request(url, "GET", "/", {}, b"", 5)
            assert b"".join([c async for c in reply.chunks()]).startswith(b"GET /")
            await asyncio.sleep(0.05)
    assert server.connections == 2


async def test_no_answer_in_time_and_nobody_listening_are_wire_errors() -> None:
    server = Server(silent=True)
    listener, url = await _serve(server)
    client = WireClient()
    try:
        with pytest.raises(WireError, match="in time"):
            await client.request(url, "GET", "/", {}, b"", 0.2)
        server.stop(listener)
        await listener.wait_closed()
        with pytest.raises(WireError, match="connect"):
            await client.request(url, "GET", "/", {}, b"", 1)
    finally:
        await client.close()
