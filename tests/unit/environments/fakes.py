"""Fakes for pool and invoker tests: a function version, an image source, and runtimes driving fake sandboxes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lambkin.sandbox.spec import ExitStatus
from lambkin.testing.sandbox import FakeSandbox, FakeSandboxBackend
from tests.unit.environments.fake_runtime import RuntimeClient


@dataclass(frozen=True)
class Version:
    name: str = "fn"
    function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    version: str = "$LATEST"
    memory_size: int = 128
    timeout: int = 3
    environment: Mapping[str, str] = field(default_factory=dict)
    image_uri: str = "localhost/app:v1"
    resolved_image_uri: str | None = "localhost/app@sha256:aa"
    code_sha256: str = "aa"
    revision_id: str = "r1"
    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None
    ephemeral_storage: int = 512
    reserved_concurrency: int | None = None

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class Config:
    entrypoint: tuple[str, ...] = ("/lambda-entrypoint.sh",)
    cmd: tuple[str, ...] = ("app.handler",)
    working_dir: str = "/var/task"
    env: tuple[str, ...] = ("PATH=/var/lang/bin:/usr/bin", "IMAGE_ONLY=1", "AWS_REGION=nope")


@dataclass(frozen=True)
class Prepared:
    config: Config = Config()
    lower_dirs: tuple[Path, ...] = (Path("/layers/top"), Path("/layers/base"))


class Images:
    def __init__(self) -> None:
        self.prepared: list[str] = []

    async def prepare(self, image_uri: str) -> Prepared:
        self.prepared.append(image_uri)
        return Prepared()


Handler = Callable[[RuntimeClient, FakeSandbox, str, dict[str, object]], Awaitable[None]]


async def default_handler(
    client: RuntimeClient, sandbox: FakeSandbox, request_id: str, event: dict[str, object]
) -> None:
    """Echo, unless the event asks for something else: error, hang, crash, print, big, gate."""
    action = event.get("do", "echo")
    if action == "echo":
        await client.respond(request_id, json.dumps(event).encode())
    elif action == "print":
        sandbox.emit_stdout(f"hello from {request_id}\n".encode())
        await client.respond(request_id, b'"printed"')
    elif action == "error":
        await client.error(request_id, b'{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}')
    elif action == "hang":
        await asyncio.Event().wait()
    elif action == "crash":
        sandbox.exit(ExitStatus(code=None, signal=9))
    elif action == "gate":
        gate = GATES[str(event["gate"])]
        await gate.wait()
        await client.respond(request_id, b'"opened"')


GATES: dict[str, asyncio.Event] = {}


class Runtimes:
    """Starts a fake runtime in every sandbox the backend starts; `init` decides how init goes."""

    def __init__(
        self, backend: FakeSandboxBackend, init: str = "ok", handler: Handler = default_handler
    ) -> None:
        self.backend = backend
        self.init = init
        self.handler = handler
        self.tasks: list[asyncio.Task[None]] = []
        self.clients: list[RuntimeClient] = []
        backend.on_start = self._started

    def _started(self, sandbox: FakeSandbox) -> None:
        self.tasks.append(asyncio.ensure_future(self._run(sandbox)))

    async def _run(self, sandbox: FakeSandbox) -> None:
        env = dict(sandbox.spec.env)
        assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
        client = await RuntimeClient(sandbox.address).connect()
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
            while True:
                reply = await client.next()
                if reply.status != 200:
                    return
                request_id = reply.headers["lambda-runtime-aws-request-id"]
                await self.handler(client, sandbox, request_id, json.loads(reply.body))
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            await client.close()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
