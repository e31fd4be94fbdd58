"""A fake Lambda runtime for unit tests: RuntimeClient, and FakeRuntimes running one in each FakeSandbox.

RuntimeClient speaks raw HTTP/1.1 to a Runtime API on one keep-alive connection; FakeRuntimes starts one in
every sandbox a FakeSandboxBackend starts and answers each event as it asks (echo, error, hang, crash...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

from lambkin.sandbox.spec import ExitStatus
from lambkin.testing.sandbox import FakeSandbox, FakeSandboxBackend


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class RuntimeClient:
    """Speaks HTTP/1.1 to a Runtime API at `address` (host:port), one request at a time."""

    address: str
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    sent: list[str] = field(default_factory=list)

    async def connect(self) -> RuntimeClient:
        host, port = self.address.rsplit(":", 1)
        self.reader, self.writer = await asyncio.open_connection(host, int(port))
        return self

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:9001", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        self.sent.append(f"{method} {path}")
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the Runtime API closed the connection")
        status = int(status_line.split()[1])
        reply_headers: dict[str, str] = {}
        while True:
            line = (await self.reader.readline()).decode().rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            reply_headers[name.strip().lower()] = value.strip()
        length = int(reply_headers.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        return Reply(status, reply_headers, data)

    async def next(self) -> Reply:
        return await self.request("GET", "/2018-06-01/runtime/invocation/next")

    async def respond(self, request_id: str, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return await self.request(
            "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body, headers
        )

    async def error(self, request_id: str, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/error", body, headers)

    async def init_error(self, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", "/2018-06-01/runtime/init/error", body, headers)


class Gate:
    """Holds the events that reach it (`{"do": "gate", "gate": name}`) until `open()`."""

    def __init__(self) -> None:
        self.held = 0
        self._opened = asyncio.Event()
        self._arrived = asyncio.Event()

    def open(self) -> None:
        self._opened.set()

    async def reached(self, count: int, deadline_s: float = 10.0) -> None:
        """Returns once `count` events are held here (a deadline, so a broken test fails instead of hanging)."""
        async with asyncio.timeout(deadline_s):
            while self.held < count:
                await self._arrived.wait()

    async def pass_through(self) -> None:
        self.held += 1
        self._arrived.set()
        self._arrived = asyncio.Event()
        try:
            await self._opened.wait()
        finally:
            self.held -= 1


class FakeRuntimes:
    """Starts a fake runtime in every sandbox the backend starts; `init` decides how init goes ("ok",
    "error", "exit", "hang", "gate": held at `gate("init")` until the test opens it). Each event says what to
    do with `"do"`: echo (the default), print, error, hang, crash, or gate (wait at `gate(name)` until the
    test opens it)."""

    def __init__(self, backend: FakeSandboxBackend, init: str = "ok") -> None:
        self.backend = backend
        self.init = init
        self.tasks: list[asyncio.Task[None]] = []
        self.clients: list[RuntimeClient] = []
        self.gates: dict[str, Gate] = {}
        self._task_of: dict[int, asyncio.Task[None]] = {}
        backend.on_start = self._started

    def gate(self, name: str) -> Gate:
        return self.gates.setdefault(name, Gate())

    async def hang_up(self, client: RuntimeClient) -> None:
        """The runtime dies while it waits in /next: it closes its half of the connection, and this returns
        once the Runtime API has closed the other half (so lambkin has seen the connection go)."""
        assert client.writer is not None
        client.writer.write_eof()
        await asyncio.wait([self._task_of[id(client)]])

    def _started(self, sandbox: FakeSandbox) -> None:
        self.tasks.append(asyncio.ensure_future(self._run(sandbox)))

    async def _run(self, sandbox: FakeSandbox) -> None:
        env = dict(sandbox.spec.env)
        assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
        client = await RuntimeClient(sandbox.address).connect()
        task = asyncio.current_task()
        assert task is not None
        self._task_of[id(client)] = task
        self.clients.append(client)
        try:
            if self.init == "error":
                await client.init_error(
                    b'{"errorMessage":"Unable to import module \'app\'","errorType":"Runtime.ImportModuleError"}',
                    {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
                )
                sandbox.exit(ExitStatus(code=1, signal=None))
                return
            if self.init == "exit":
                sandbox.exit(ExitStatus(code=2, signal=None))
                return
            if self.init == "hang":
                return
            if self.init == "gate":
                await self.gate("init").pass_through()
            while True:
                reply = await client.next()
                if reply.status != 200:
                    return
                request_id = reply.headers["lambda-runtime-aws-request-id"]
                await self._handle(client, sandbox, request_id, json.loads(reply.body))
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            await client.close()

    async def _handle(
        self, client: RuntimeClient, sandbox: FakeSandbox, request_id: str, event: dict[str, object]
    ) -> None:
        action = event.get("do", "echo")
        if action == "echo":
            await client.respond(request_id, json.dumps(event).encode())
        elif action == "print":
            sandbox.emit_stdout(f"hello from {request_id}\n".encode())
            await client.respond(request_id, b'"printed"')
        elif action == "error":
            await client.error(
                request_id, b'{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}'
            )
        elif action == "hang":
            await asyncio.Event().wait()
        elif action == "crash":
            sandbox.exit(ExitStatus(code=None, signal=9))
        elif action == "gate":
            await self.gate(str(event["gate"])).pass_through()
            await client.respond(request_id, b'"opened"')

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
