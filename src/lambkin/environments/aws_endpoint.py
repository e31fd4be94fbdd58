"""lambkin's own AWS API inside every sandbox: a port on the sandbox's loopback relayed to lambkin's gateway.

A SandboxBackend decorator, so neither the pools nor `sandbox` change: each sandbox gets one more
listening socket inside its network namespace (`SandboxSpec.extra_ports`), served from lambkin's loop by a
byte relay to the server's own address, and AWS_ENDPOINT_URL pointing an AWS SDK at it. The credentials
beside it are the environment's own, a session of its function's execution role (the pools put them in
the spec: identity/function_credentials.py), never the server's. A handler's boto3 then sends to lambkin's
queues or invokes other functions with no configuration, and may do what its role allows.

A sandbox holds at most `max_connections` relayed connections at once (each costs lambkin two sockets):
past them a new one is closed as soon as it is accepted, and other sandboxes keep their own share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, replace
from typing import Any

from lambkin.sandbox.spec import ExitStatus, OutputSink, Sandbox, SandboxBackend, SandboxSpec

log = logging.getLogger("lambkin.environments.endpoint")

AWS_API_PORT = 9002  # 9001 is the Runtime API's
MAX_CONNECTIONS = 64  # a sandbox's relayed connections at once (LAMBKIN_SANDBOX_ENDPOINT_CONNECTIONS)
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    """Where the relay connects: the server's own listening address."""

    host: str
    port: int


def endpoint_env(spec: SandboxSpec, port: int = AWS_API_PORT) -> tuple[tuple[str, str], ...]:
    """The spec's variables with AWS_ENDPOINT_URL set to the relay (it replaces any given before)."""
    ours = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    return tuple((k, v) for k, v in spec.env if k not in ours) + tuple(ours.items())


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class Relay:
    """Serves one listening socket: each connection is piped both ways to the gateway until either side ends;
    past `max_connections` open at once, a new connection is closed unserved.

    The relay owns every connection's task: `close()` cancels and awaits those still running (a call in
    flight when the sandbox goes), so that none outlives the sandbox.
    """

    def __init__(self, endpoint: Endpoint, max_connections: int = MAX_CONNECTIONS) -> None:
        self.endpoint = endpoint
        self.max_connections = max_connections
        self.server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[Any]] = set()
        self._closed = False

    async def serve(self, listener: socket.socket) -> None:
        self.server = await asyncio.start_server(self._connection, sock=listener)

    async def _connection(
        self, inner_reader: asyncio.StreamReader, inner_writer: asyncio.StreamWriter
    ) -> None:
        call = asyncio.current_task()
        assert call is not None
        if self._closed:  # accepted as the relay closed
            inner_writer.close()
            return
        if len(self._calls) >= self.max_connections:
            inner_writer.transport.abort()
            return
        self._calls.add(call)
        try:
            await self._relay(inner_reader, inner_writer)
        finally:
            self._calls.discard(call)
            inner_writer.close()

    async def _relay(self, inner_reader: asyncio.StreamReader, inner_writer: asyncio.StreamWriter) -> None:
        try:
            outer_reader, outer_writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        except OSError as exc:
            log.warning("the sandbox's AWS endpoint cannot reach the gateway: %s", exc)
            return
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(inner_reader, outer_writer))
                group.create_task(_pipe(outer_reader, inner_writer))
        finally:
            outer_writer.close()

    async def close(self) -> None:
        """Stops accepting, then cancels the connections still open and waits until they have ended."""
        self._closed = True
        if self.server is not None:
            self.server.close()
            self.server = None
        calls, self._calls = set(self._calls), set()
        for call in calls:
            call.cancel()
        if calls:
            await asyncio.wait(calls)


class EndpointSandbox:
    """The inner sandbox, with the relay closed before it is destroyed."""

    def __init__(self, inner: Sandbox, relay: Relay) -> None:
        self.inner = inner
        self.relay = relay

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def runtime_api_socket(self) -> socket.socket:
        return self.inner.runtime_api_socket

    @property
    def listeners(self) -> dict[int, socket.socket]:
        return self.inner.listeners

    async def start(self) -> None:
        await self.inner.start()

    async def wait(self) -> ExitStatus:
        return await self.inner.wait()

    async def end_init(self) -> None:
        await self.inner.end_init()

    async def freeze(self) -> None:
        await self.inner.freeze()

    async def thaw(self) -> None:
        await self.inner.thaw()

    def max_memory_bytes(self) -> int:
        return self.inner.max_memory_bytes()

    async def destroy(self) -> None:
        try:
            await self.relay.close()
        finally:
            await self.inner.destroy()


def own_endpoint(host: str, port: int) -> Endpoint:
    """The gateway's address as seen from lambkin itself (a wildcard listen address means loopback)."""
    reachable = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return Endpoint(reachable, port)


class EndpointBackend:
    """Wraps a SandboxBackend: every sandbox it creates can reach lambkin's AWS API at AWS_ENDPOINT_URL."""

    def __init__(
        self,
        inner: SandboxBackend,
        endpoint: Endpoint,
        port: int = AWS_API_PORT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.port = port
        self.max_connections = max_connections

    async def create(self, spec: SandboxSpec, stdout: OutputSink, stderr: OutputSink) -> Sandbox:
        ours = replace(spec, extra_ports=(*spec.extra_ports, self.port), env=endpoint_env(spec, self.port))
        sandbox = await self.inner.create(ours, stdout, stderr)
        relay = Relay(self.endpoint, self.max_connections)
        try:
            await relay.serve(sandbox.listeners[self.port])
        except BaseException:
            await sandbox.destroy()
            raise
        return EndpointSandbox(sandbox, relay)

    async def cleanup_leftovers(self) -> None:
        await self.inner.cleanup_leftovers()
