"""No task of the in-sandbox AWS endpoint outlives its sandbox: a relayed call in flight when the sandbox
goes (a timeout) is cancelled and awaited with it, never left pending for the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from lambkin.environments.aws_endpoint import AWS_API_PORT, Endpoint, EndpointBackend
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxSpec
from tests.security.sandboxes import needs_runc

pytestmark = needs_runc

# A handler mid-call to lambkin's API (a long poll, say): its request is sent, its answer not yet come.
CALLER = f"""
import socket, time
call = socket.create_connection(("127.0.0.1", {AWS_API_PORT}))
call.sendall(b"POST / HTTP/1.1\\r\\nHost: sqs\\r\\nContent-Length: 2\\r\\n\\r\\n{{}}")
time.sleep(600)
"""


class SlowGateway:
    """Stands for lambkin's gateway holding a long poll: it reads each request and answers nothing."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await reader.readuntil(b"{}")
        self.called.set()


async def test_a_call_in_flight_is_cancelled_with_its_sandbox(
    backend: RuncBackend, python_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = SlowGateway()
    server = await asyncio.start_server(gateway.connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    relayed = EndpointBackend(backend, Endpoint("127.0.0.1", port))
    spec = SandboxSpec(
        id="caller",
        lower_dirs=(python_root,),
        args=("/usr/bin/python3", "-c", CALLER),
        env=(("PATH", "/usr/bin:/bin"),),
    )
    before = asyncio.all_tasks()
    sandbox = await relayed.create(spec, lambda _: None, lambda _: None)
    try:
        await sandbox.start()
        await asyncio.wait_for(gateway.called.wait(), 60)
    finally:
        await sandbox.destroy()  # what a timeout does
    try:
        left = [task for task in asyncio.all_tasks() - before if task is not asyncio.current_task()]
        assert left == [], "tasks of the sandbox's endpoint outlived it"
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            gc.collect()
        assert "Task was destroyed but it is pending" not in caplog.text
    finally:
        for writer in gateway.writers:
            writer.close()
        server.close()
        await server.wait_closed()
