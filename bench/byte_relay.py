"""A relay that knows nothing but HTTP/1.1 framing: the least a hop made by a Python process costs.

Run: .venv/bin/python -m bench.byte_relay UPSTREAM_PORT   (prints "ready PORT" once it listens on 127.0.0.1)

Each client connection gets its own kept connection to 127.0.0.1:UPSTREAM_PORT. A message (a request one
way, its answer the other) is forwarded once its head and Content-Length body are in, as one write; nothing
is parsed past that, routed, signed or checked. uvloop and asyncio protocols, as lambkin's front door uses.
bench.cluster_forward puts it between its client and the node that has the environment, beside HAProxy:
what a lambkin node adds to a hop beyond it is what the node does, not what Python costs.
A bench tool only: a message without a Content-Length (chunked, or an answer read to its end) is not
framed, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import uvloop

_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"


def message_end(buffer: bytes) -> int:
    """Where the first message in `buffer` ends: 0 while it is not all in, -1 when it has no length."""
    end = buffer.find(_HEAD_END)
    if end < 0:
        return 0
    head = buffer[: end + 2].lower()
    at = head.find(_LENGTH)
    if at < 0:
        return end + 4 if head.startswith((b"get ", b"head ")) else -1
    length = int(head[at + len(_LENGTH) : head.find(b"\r\n", at + 2)])
    whole = end + 4 + length
    return whole if len(buffer) >= whole else 0


class _Side(asyncio.Protocol):
    """One side of a relayed connection: what it reads, framed, is written to the other side."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.other: _Side | None = None
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while buffer:
            end = message_end(buffer)
            if end < 0:
                self.close()
                return
            if end == 0:
                break
            self.forward(buffer[:end])
            buffer = buffer[end:]
        self._buffer = buffer

    def forward(self, message: bytes) -> None:
        assert self.other is not None and self.other.transport is not None
        self.other.transport.write(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        for side in (self, self.other):
            if side is not None and side.transport is not None:
                side.transport.close()


class _Client(_Side):
    """The client's side: connects upstream first, and holds what comes before that is done."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self._upstream_port = upstream_port
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        upstream = self.other = _Side()
        upstream.other = self
        asyncio.get_running_loop().create_task(self._connect(upstream))

    async def _connect(self, upstream: _Side) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: upstream, "127.0.0.1", self._upstream_port)
        for message in self._early:
            self.forward(message)
        self._early = []

    def forward(self, message: bytes) -> None:
        if self.other is None or self.other.transport is None:
            self._early.append(message)
        else:
            super().forward(message)


async def serve(upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", 0)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
