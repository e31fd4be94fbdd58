"""A fake Lambda runtime for unit tests: a raw HTTP/1.1 client of the Runtime API on one keep-alive connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field


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
