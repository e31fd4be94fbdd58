"""The sandboxes' DNS: a forwarder lambkin serves on each sandbox's own loopback (127.0.0.1:53).

Queries arrive on a UDP socket and a TCP listener lambkin opened inside the sandbox's namespace and leave
from lambkin's own namespace towards the upstream resolvers, so a resolver on the host's loopback
(systemd-resolved's 127.0.0.53) serves sandboxes too, and no address of the host is open to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from ipaddress import IPv4Address, IPv6Address
from typing import cast

PORT = 53
_TIMEOUT_S = 2.0
_IN_FLIGHT = 64  # per sandbox: more queries at once are dropped, as a busy resolver would
_MAX_TCP_MESSAGE = 65535


class _Answer(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data[:2] == self.query_id and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:  # e.g. port unreachable: try the next upstream now
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _ask_udp(upstream: IPv4Address | IPv6Address, query: bytes) -> bytes | None:
    loop = asyncio.get_running_loop()
    transport, answer = await loop.create_datagram_endpoint(
        lambda: _Answer(query[:2]), remote_addr=(str(upstream), PORT)
    )
    try:
        transport.sendto(query)
        return await asyncio.wait_for(answer.reply, _TIMEOUT_S)
    except TimeoutError:
        return None
    finally:
        transport.close()


class _UdpService(asyncio.DatagramProtocol):
    def __init__(self, upstreams: tuple[IPv4Address | IPv6Address, ...]) -> None:
        self.upstreams = upstreams
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or len(self.tasks) >= _IN_FLIGHT:
            return
        task = asyncio.get_running_loop().create_task(self._forward(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _forward(self, query: bytes, addr: tuple[str, int]) -> None:
        for upstream in self.upstreams:
            with contextlib.suppress(OSError):
                reply = await _ask_udp(upstream, query)
                if reply is not None:
                    if self.transport is not None:
                        self.transport.sendto(reply, addr)
                    return


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    return await reader.readexactly(length)


async def _ask_tcp(upstream: IPv4Address | IPv6Address, query: bytes) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(str(upstream), PORT), _TIMEOUT_S)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        return await asyncio.wait_for(_read_message(reader), _TIMEOUT_S)
    finally:
        writer.close()


class Serving:
    """The forwarder of one sandbox, serving its two sockets until closed."""

    def __init__(
        self,
        udp: asyncio.DatagramTransport,
        service: _UdpService,
        tcp: asyncio.Server,
        clients: set[asyncio.Task[None]],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._udp = udp
        self._service = service
        self._tcp = tcp
        self._clients = clients

    def close(self) -> None:
        """Stops serving and closes both sockets; from any thread (the loop does it)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._close()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self._udp.close()
        self._tcp.close()
        for task in (*self._service.tasks, *self._clients):
            task.cancel()


class Forwarder:
    """Forwards every sandbox's queries to `upstreams` (tried in order), over UDP and over TCP."""

    def __init__(self, upstreams: tuple[IPv4Address | IPv6Address, ...]) -> None:
        self.upstreams = upstreams

    async def serve(self, udp: socket.socket, tcp: socket.socket) -> Serving:
        """Serves the sandbox's UDP socket and TCP listener (both bound to its 127.0.0.1:53)."""
        loop = asyncio.get_running_loop()
        transport, service = await loop.create_datagram_endpoint(
            lambda: _UdpService(self.upstreams), sock=udp
        )
        clients: set[asyncio.Task[None]] = set()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            clients.add(task)
            try:
                while True:
                    query = await _read_message(reader)
                    reply = await self._tcp_reply(query)
                    if reply is None:
                        return
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, OSError, TimeoutError):
                return
            finally:
                clients.discard(task)
                writer.close()

        server = await asyncio.start_server(client, sock=tcp, limit=_MAX_TCP_MESSAGE + 2)
        return Serving(transport, service, server, clients)

    async def _tcp_reply(self, query: bytes) -> bytes | None:
        for upstream in self.upstreams:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                return await _ask_tcp(upstream, query)
        return None
