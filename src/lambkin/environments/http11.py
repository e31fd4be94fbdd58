"""A small, fast HTTP/1.1 server protocol (httptools, keep-alive) whose handler may reply later."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import httptools

_REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Request Entity Too Large",
    500: b"Internal Server Error",
}


@dataclass
class Request:
    """One parsed request. `size` counts every body byte; `body` keeps at most the handler's limit."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""  # the raw query string, without "?"
    body: bytes = b""
    size: int = 0
    truncated: bool = False  # the body grew past the limit and was discarded


class Reply:
    """The one response owed to one request; `send` may be called now or later, at most once."""

    __slots__ = ("_conn", "sent")

    def __init__(self, conn: HttpConnection) -> None:
        self._conn = conn
        self.sent = False

    @property
    def open(self) -> bool:
        return not self._conn.closed

    def send(self, status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> None:
        if self.sent:
            return
        self.sent = True
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
        lines.extend(b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
        lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
        self._conn.complete(self, b"".join(lines) + body)


Handler = Callable[[Request, Reply], None]
BodyLimit = Callable[[str, str], int]


class HttpConnection(asyncio.Protocol):
    """One client connection. Requests are handled in order; replies are written in the same order."""

    def __init__(self, handler: Handler, body_limit: BodyLimit, on_close: Callable[[], None]) -> None:
        self._handler = handler
        self._body_limit = body_limit
        self._on_close = on_close
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._request: Request | None = None
        self._url = b""
        self._header_name = b""
        self._chunks: list[bytes] = []
        self._limit = 0
        self._pending: deque[tuple[Reply, bytes | None]] = deque()
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        if self.closed:  # aborted between its accept and now (its environment went away)
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.abort()
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                self._transport.close()  # after the 400 is written
            self.closed = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._chunks = []
        self._request = Request(method="", path="")

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._request is not None
        self._request.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        request = self._request
        assert request is not None
        request.method = self._parser.get_method().decode("ascii")
        path, _, query = self._url.partition(b"?")
        request.path, request.query = path.decode("latin-1"), query.decode("latin-1")
        self._limit = self._body_limit(request.method, request.path)

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        request.size += len(body)
        if request.size > self._limit:
            request.truncated = True
            self._chunks = []
        else:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        request = self._request
        assert request is not None
        if not request.truncated:
            request.body = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = []
        self._request = None
        reply = Reply(self)
        self._pending.append((reply, None))
        self._handler(request, reply)

    # replies
    def complete(self, reply: Reply, data: bytes) -> None:
        """Records a reply's bytes and writes every reply at the head of the queue that is ready."""
        if self.closed or self._transport is None:
            return
        for i, (queued, _) in enumerate(self._pending):
            if queued is reply:
                self._pending[i] = (reply, data)
                break
        while self._pending and self._pending[0][1] is not None:
            _, ready = self._pending.popleft()
            assert ready is not None
            self._transport.write(ready)
        if not self._parser.should_keep_alive() and not self._pending:
            self._transport.close()

    def abort(self) -> None:
        """Drops the connection now, whatever is still unsent (a peer that stopped reading cannot hold it)."""
        if self._transport is not None:
            self._transport.abort()
        self.closed = True
