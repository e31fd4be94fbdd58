"""A sandbox holds a bounded number of connections to lambkin's in-sandbox AWS endpoint; other sandboxes keep theirs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.environments.aws_endpoint import AWS_API_PORT, Endpoint, EndpointBackend
from lambkin.sandbox.runc import RuncBackend
from tests.security.sandboxes import needs_runc, running_python

pytestmark = needs_runc

CAP = 8
OPENED = 40

# Opens OPENED connections to the endpoint, then asks each for an answer; prints how many answered and
# holds them all open.
GREEDY = f"""
import socket, time
held = []
for _ in range({OPENED}):
    try:
        held.append(socket.create_connection(("127.0.0.1", {AWS_API_PORT}), timeout=10))
    except OSError:
        pass
served = 0
for conn in held:
    try:
        conn.sendall(b"hello\\n")
        served += conn.recv(16) == b"ok\\n"
    except OSError:
        pass
print(served, flush=True)
time.sleep(600)
"""


@pytest.fixture
async def gateway() -> AsyncIterator[Endpoint]:
    """Stands in for lambkin's gateway: answers "ok" to each line and holds the connection until closed."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(b"ok\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield Endpoint("127.0.0.1", port)


async def test_connections_past_the_cap_are_refused_and_others_keep_theirs(
    backend: RuncBackend, python_root: Path, gateway: Endpoint
) -> None:
    endpoint = EndpointBackend(backend, gateway, max_connections=CAP)
    async with running_python(endpoint, python_root, GREEDY, "greedy") as greedy:
        assert await greedy.first_line() == str(CAP)
        async with running_python(endpoint, python_root, GREEDY, "other") as other:  # greedy holds its own
            assert await other.first_line() == str(CAP)
