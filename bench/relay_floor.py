"""The warm-invoke floor, in a process of its own: the python-echo image in a runc sandbox whose Runtime API is
served by a bare relay on lambkin's http11 (no SigV4, routing, pools or logs), which hands each client
request to the runtime's pending /next and the runtime's /response back.

Run by bench.warm_invoke: .venv/bin/python -m bench.relay_floor SANDBOX_ID [CPU]
(prints "ready PORT" once the runtime is up; SIGTERM destroys the sandbox and exits). With CPU, the relay's
event loop thread is pinned there and its sandbox kept off it, as `lambkin server` does (loop_cpu.py):
the floor is what any Python server costs on this machine doing the least a Runtime API relay must do, in
the same conditions as lambkin's, with a process and a CPU of its own like lambkin's and the emulator's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import MEMORY_MB, WORK, RieSandbox
from lambkin.loop_cpu import SandboxCpus
from lambkin.sandbox.runc import RuncBackend


class RelayFloor:
    """The python-echo image (awslambdaric) in a runc sandbox, its Runtime API served by a bare relay."""

    def __init__(self, backend: RuncBackend) -> None:
        self.image = RieSandbox(backend, name="python-echo", memory_mb=MEMORY_MB)
        self.backend = backend
        self.sandbox: Any = None
        self.port = 0
        self._nexts: list[Any] = []  # the runtime's pending /next replies
        self._events: list[tuple[str, bytes]] = []  # events no /next has taken yet
        self._callers: dict[str, Any] = {}  # request id -> the caller's pending reply
        self._count = 0

    async def start(self, sandbox_id: str) -> None:
        from dataclasses import replace

        from lambkin.http11.handler import HandlerConnection

        base = self.image.spec(sandbox_id)
        env = (*base.env, ("_HANDLER", "app.handler"), ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
        spec = replace(base, env=env, runtime_api_port=9001)
        self.sandbox = await self.backend.create(spec, lambda _: None, lambda _: None)
        loop = asyncio.get_running_loop()
        limit = lambda method, path: 7_000_000  # noqa: E731
        await loop.create_server(
            lambda: HandlerConnection(self._runtime, limit), sock=self.sandbox.runtime_api_socket
        )
        server = await loop.create_server(lambda: HandlerConnection(self._caller, limit), "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        await self.sandbox.start()
        await self.sandbox.end_init()

    async def destroy(self) -> None:
        if self.sandbox is not None:
            await self.sandbox.destroy()

    def _event_headers(self, request_id: str) -> tuple[tuple[str, str], ...]:
        return (
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:floor"),
            ("Content-Type", "application/json"),
        )

    def _runtime(self, request: Any, reply: Any) -> None:
        if request.method == "GET":  # /next
            if self._events:
                request_id, body = self._events.pop(0)
                reply.send(200, body, self._event_headers(request_id))
            else:
                self._nexts.append(reply)
            return
        request_id = request.path.split("/")[4]  # /2018-06-01/runtime/invocation/<id>/response
        reply.send(202, b'{"status":"OK"}')
        self._callers.pop(request_id).send(200, request.body, (("Content-Type", "application/json"),))

    def _caller(self, request: Any, reply: Any) -> None:
        self._count += 1
        request_id = f"floor-{self._count}"
        self._callers[request_id] = reply
        if self._nexts:
            self._nexts.pop(0).send(200, request.body, self._event_headers(request_id))
        else:
            self._events.append((request_id, request.body))


async def serve(sandbox_id: str, cpu: int | None) -> None:
    others = frozenset(os.sched_getaffinity(0)) - {cpu} if cpu is not None else None
    backend = RuncBackend(WORK / "runc-floor", cpus=SandboxCpus(others, held=False) if others else None)
    await backend.cleanup_leftovers()
    floor = RelayFloor(backend)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await floor.start(sandbox_id)
        if cpu is not None:  # after the sandbox started: its cgroup holds it to the others
            os.sched_setaffinity(0, {cpu})
        print(f"ready {floor.port}", flush=True)
        await stop.wait()
    finally:
        await floor.destroy()


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None))
