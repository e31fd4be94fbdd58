"""The DNS forwarder: a query on the sandbox's UDP socket or TCP listener comes back with the upstream's
answer; an upstream that does not answer is skipped for the next. Upstreams here are fakes on the host's
loopback (port 53 needs root)."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv6Address

import pytest

from lambkin.network.dns import Forwarder

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binds port 53")

SILENT = IPv4Address("127.0.0.78")  # nothing answers there
UPSTREAM = IPv4Address("127.0.0.77")
QUERY = b"\x12\x34" + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x04test\x00\x00\x01\x00\x01"


def _answer(query: bytes) -> bytes:
    return query[:2] + b"\x81\x80" + query[4:] + b"answered"


class _FakeUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(_answer(data), addr)  # type: ignore[attr-defined]


async def _fake_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    reply = _answer(await reader.readexactly(length))
    writer.write(struct.pack("!H", len(reply)) + reply)
    await writer.drain()
    writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(_FakeUdp, local_addr=(str(UPSTREAM), 53))
    tcp = await asyncio.start_server(_fake_tcp, str(UPSTREAM), 53)
    yield
    udp.close()
    tcp.close()


def _sandbox_sockets() -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.setblocking(False)
    return udp, tcp


async def test_udp_and_tcp_queries_get_the_upstreams_answer(upstream: None) -> None:
    udp, tcp = _sandbox_sockets()
    serving = await Forwarder((SILENT, UPSTREAM)).serve(udp, tcp)
    try:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            await loop.sock_sendto(client, QUERY, udp.getsockname())
            reply = await asyncio.wait_for(loop.sock_recv(client, 512), 10)
        assert reply == _answer(QUERY)
        reader, writer = await asyncio.open_connection(*tcp.getsockname())
        writer.write(struct.pack("!H", len(QUERY)) + QUERY)
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        assert await reader.readexactly(length) == _answer(QUERY)
        writer.close()
    finally:
        serving.close()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this host")
async def test_an_ipv6_upstream_answers_over_udp_and_tcp() -> None:
    loop = asyncio.get_running_loop()
    fake_udp, _ = await loop.create_datagram_endpoint(_FakeUdp, local_addr=("::1", 53))
    fake_tcp = await asyncio.start_server(_fake_tcp, "::1", 53)
    udp, tcp = _sandbox_sockets()
    serving = await Forwarder((IPv6Address("::1"),)).serve(udp, tcp)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            await loop.sock_sendto(client, QUERY, udp.getsockname())
            assert await asyncio.wait_for(loop.sock_recv(client, 512), 10) == _answer(QUERY)
        reader, writer = await asyncio.open_connection(*tcp.getsockname())
        writer.write(struct.pack("!H", len(QUERY)) + QUERY)
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        assert await reader.readexactly(length) == _answer(QUERY)
        writer.close()
    finally:
        serving.close()
        fake_udp.close()
        fake_tcp.close()
