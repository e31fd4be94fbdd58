"""The front door: every HTTP/1.1 connection to lambkin's port starts here.

AWS API requests (the hot path: Invoke, SQS batches, GetFunction) are answered directly: httptools parses
the request, the gateway routes its head, the body is buffered up to the operation's limit, and the
gateway's reply is written back, with no ASGI messages in between. A request for any other surface
(registry, function URLs, HTTP gateway, /health) hands its connection over to uvicorn's own protocol, which
serves the ASGI app from then on; the hand-over replays the request's bytes, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.root import RootApp
from lambkin.environments.busy_poll import BusyPoll
from lambkin.protocol.gateway import Routed, api_request
from lambkin.protocol.serialize import Reply

log = logging.getLogger("lambkin.http")

_MAX_QUEUED = 16  # pipelined requests read ahead of their answers before reading pauses
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_SERVER_ERROR = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _HandOver(Exception):
    """Raised from a parser callback to stop parsing: the request belongs to another surface."""


class FrontDoor(asyncio.Protocol):
    """One client connection, answering AWS API requests in order, one at a time (as HTTP/1.1 needs)."""

    def __init__(
        self,
        root: RootApp,
        aws: AwsAsgi,
        fallback: Callable[[], asyncio.Protocol],
        connections: set[Any],
        tasks: set[asyncio.Task[None]],
        keep_alive_s: float,
        poll: BusyPoll | None = None,
    ) -> None:
        self._root = root
        self._aws = aws  # the mount whose requests are answered here, by its gateway
        self._gateway = aws.gateway
        self._fallback = fallback
        self._connections = connections
        self._tasks = tasks
        self._keep_alive_s = keep_alive_s
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._peer = ""
        self._closed = False
        self._closing = False  # the server is shutting down: close once the current answer is written
        self._idle: asyncio.TimerHandle | None = None
        self._active_at = 0.0  # the last read or answer (the keep-alive timeout counts from it)
        # the request being parsed
        self._in_message = False
        self._url: list[bytes] = []
        self._headers: dict[str, str] = {}
        self._routed: Routed | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._raw: list[bytes] | None = None  # its bytes so far, while it began at the start of a read
        self._feed = b""  # the bytes being parsed
        self._ended_in_feed = False  # a request ended within them (so a later one began mid-read)
        # requests read and waiting for their answer, oldest first; `_busy` while one is being answered
        self._jobs: deque[tuple[Routed, bytes | None, bool]] = deque()
        self._busy = False
        self._paused = False
        # a client that sends its next request right after each answer: the loop polls for it (busy_poll.py)
        self._poll = poll
        self._answered = False  # the last thing done was an answer (at `_active_at`)
        self._gap_s: float | None = None  # answer -> next request, moving average
        self._next_request: asyncio.Future[None] | None = None
        self._hand_over_bytes: bytes | None = None  # a request for another surface, from its first byte
        self._head_lost = False  # ... whose first bytes were parsed along with an earlier request

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        self._connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        self._disarm_idle()
        self._request_arrived()

    def data_received(self, data: bytes) -> None:
        if self._answered:
            self._request_arrived()
        self._active_at = self._loop.time()
        if self._hand_over_bytes is not None:  # waiting for earlier answers before handing over
            self._hand_over_bytes += data
            return
        self._feed, self._ended_in_feed = data, False
        if self._in_message and self._raw is not None and self._routed is None:
            self._raw.append(data)  # more of a head that began at the start of an earlier read
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as failure:
            if isinstance(failure.__context__, _HandOver):
                self._hand_over()
                return
            log.error("reading a request failed", exc_info=failure.__context__)
            self._abort(_SERVER_ERROR)
        except (httptools.HttpParserUpgrade, httptools.HttpParserError):
            self._abort(_BAD_REQUEST)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close now if idle, else after the answer being written."""
        self._closing = True
        if self._between_requests and self._transport is not None:
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._raw = None if self._ended_in_feed else [self._feed]
        self._in_message = True
        self._url = []
        self._headers = {}
        self._routed = None
        self._chunks = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        target = b"".join(self._url).decode("latin-1")
        method = self._parser.get_method().decode("latin-1")
        path = unquote(target.partition("?")[0])
        scope = {"type": "http", "method": method, "path": path, "headers": _host_header(self._headers)}
        mount = self._root.mount_for(scope)
        if mount is None or mount.app is not self._aws or self._parser.should_upgrade():
            raise _HandOver
        self._routed = self._gateway.route(api_request(method, target, self._headers, self._peer))
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        routed = self._routed
        assert routed is not None
        self._size += len(body)
        if self._size <= routed.body_limit:
            self._chunks.append(body)
        else:
            self._chunks = []  # read and dropped: the answer is the operation's too-large error

    def on_message_complete(self) -> None:
        routed = self._routed
        assert routed is not None
        body: bytes | None = None
        if self._size <= routed.body_limit:
            body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._in_message, self._ended_in_feed = False, True
        self._raw = None
        self._routed, self._chunks = None, []
        self._jobs.append((routed, body, self._parser.should_keep_alive()))
        if len(self._jobs) >= _MAX_QUEUED and self._transport is not None and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        if not self._busy:
            self._next()

    # answers
    def _next(self) -> None:
        routed, body, keep_alive = self._jobs.popleft()
        self._busy = True
        resume = self._hand_over_bytes is None and len(self._jobs) < _MAX_QUEUED // 2
        if self._paused and resume and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        task = self._loop.create_task(self._answer(routed, body, keep_alive))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, routed: Routed, body: bytes | None, keep_alive: bool) -> None:
        try:
            reply = await self._gateway.answer(routed, body)
            keep_alive = keep_alive and not self._closing
            if reply.stream is None:
                self._write(_head(reply, len(reply.body), keep_alive) + _payload(routed, reply))
            else:
                await self._write_stream(reply, keep_alive, routed.request.method == "HEAD")
        except Exception:  # the gateway answers every failure itself; this is writing the answer failing
            log.exception("answering %s %s failed", routed.request.method, routed.request.raw_path)
            keep_alive = False
        finally:
            self._busy = False
        self._after_answer(keep_alive, _latency_bound(routed))

    async def _write_stream(self, reply: Reply, keep_alive: bool, head_only: bool) -> None:
        assert reply.stream is not None
        self._write(_head(reply, None, keep_alive))
        async for chunk in reply.stream:
            if self._closed:
                break
            if chunk and not head_only:
                self._write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if not head_only:
            self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> None:
        if not self._closed and self._transport is not None:
            self._transport.write(data)

    def _after_answer(self, keep_alive: bool, poll_next: bool = False) -> None:
        transport = self._transport
        if self._closed or transport is None:
            return
        if not keep_alive:
            transport.close()
        elif self._jobs:
            self._next()
        elif self._hand_over_bytes is not None:
            self._hand_over()
        elif self._closing and not self._in_message:
            transport.close()
        elif not self._in_message:
            self._arm_idle()
            self._await_next_request(poll_next)

    # polling for the next request of a quick client
    def _await_next_request(self, poll: bool) -> None:
        self._answered = True  # _arm_idle has just set _active_at
        if poll and self._poll is not None and self._gap_s is not None:
            self._next_request = self._loop.create_future()
            self._poll.hold(self._next_request, 2 * self._gap_s)

    def _request_arrived(self) -> None:
        if self._answered:
            gap = self._loop.time() - self._active_at
            self._gap_s = gap if self._gap_s is None else 0.8 * self._gap_s + 0.2 * gap
            self._answered = False
        if self._next_request is not None and not self._next_request.done():
            self._next_request.set_result(None)
        self._next_request = None

    # hand-over to uvicorn's protocol
    def _hand_over(self) -> None:
        """Gives the connection to uvicorn from the current request on, once every earlier answer is out."""
        if self._hand_over_bytes is None:
            # Pipelined behind another request in the same read, its first bytes are gone: refused with a
            # 400 after the earlier answers.
            self._head_lost = self._raw is None
            self._hand_over_bytes = b"".join(self._raw or ())
            self._raw = None
        transport = self._transport
        if transport is None or self._closed:
            return
        if self._busy or self._jobs:
            if not self._paused:
                self._paused = True
                transport.pause_reading()
            return  # _after_answer comes back here
        data, self._hand_over_bytes = self._hand_over_bytes, None
        if self._head_lost:
            self._abort(_BAD_REQUEST)
            return
        self._disarm_idle()
        self._connections.discard(self)
        if self._paused:
            self._paused = False
            transport.resume_reading()
        protocol = self._fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    def _abort(self, answer: bytes) -> None:
        """Answers and closes the connection (whatever else it carries is not read)."""
        if self._transport is not None and not self._closed:
            self._transport.write(answer)
            self._transport.close()
        self._closed = True

    # idle keep-alive connections: one timer per connection, pushed back lazily rather than re-made per request
    @property
    def _between_requests(self) -> bool:
        """No request being read, queued or answered."""
        return not (self._busy or self._jobs or self._in_message)

    def _arm_idle(self) -> None:
        self._active_at = self._loop.time()
        if self._idle is None:
            self._idle = self._loop.call_later(self._keep_alive_s, self._close_idle)

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _close_idle(self) -> None:
        self._idle = None
        if self._transport is None or self._closed:
            return
        quiet_for = self._loop.time() - self._active_at
        if not self._between_requests or quiet_for < self._keep_alive_s:
            self._idle = self._loop.call_later(max(self._keep_alive_s - quiet_for, 0.1), self._close_idle)
            return
        self._transport.close()


def front_door(root: RootApp, aws: AwsAsgi, poll: BusyPoll | None = None) -> Callable[..., asyncio.Protocol]:
    """The protocol factory uvicorn calls (as its `http` class) for each accepted connection."""

    def create(
        config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None
    ) -> asyncio.Protocol:
        def fallback() -> asyncio.Protocol:
            return HttpToolsProtocol(
                config=config, server_state=server_state, app_state=app_state, _loop=_loop
            )

        return FrontDoor(
            root,
            aws,
            fallback,
            server_state.connections,
            server_state.tasks,
            config.timeout_keep_alive,
            poll,
        )

    return create


# After these the next request is polled for (busy_poll.py): a caller waiting on a function's answer is on
# the latency path. Throughput-bound traffic (SQS batches, the control plane) leaves the CPU to its clients.
_POLLED_AFTER = frozenset({("lambda", "Invoke")})


def _latency_bound(routed: Routed) -> bool:
    operation = routed.operation.name if routed.operation is not None else ""
    return (routed.index.name, operation) in _POLLED_AFTER


def _host_header(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    host = headers.get("host")
    return [(b"host", host.encode("latin-1"))] if host is not None else []


def _payload(routed: Routed, reply: Reply) -> bytes:
    return b"" if routed.request.method == "HEAD" or reply.status in _NO_CONTENT else reply.body


_STATUS_LINES: dict[int, bytes] = {}
_NO_CONTENT = (204, 304)


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")
    return line


_date: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, f"date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode("latin-1"))
    return _date[1]


def _head(reply: Reply, length: int | None, keep_alive: bool) -> bytes:
    parts = [_status_line(reply.status)]
    for name, value in reply.headers:
        if "\r" in value or "\n" in value:  # never let a value end the head early
            value = value.replace("\r", " ").replace("\n", " ")
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    parts.append(_date_header())
    if length is None:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif reply.status not in _NO_CONTENT:  # a 204 or 304 carries no body and no length
        parts.append(b"content-length: %d\r\n" % length)
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
