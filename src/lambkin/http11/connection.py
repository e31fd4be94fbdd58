"""One HTTP/1.1 server connection: httptools parses, pipelined requests are answered in order, kept alive.

A subclass says what a request's head allows (`head_received`: its body limit, or HandOver to pass the
connection to another protocol from this request on) and answers each whole request (`received`), now or
later, through the Reply it is given. The connection writes the answers in request order, pauses reading
while too many are owed, closes on `Connection: close`, after an idle keep-alive timeout, or once drained
at shutdown, and answers 100-continue, malformed requests, heads past their limits (431) and heads too slow
to arrive (408) itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, cast

import httptools
from mypy_extensions import mypyc_attr

from lambkin.http11 import wire
from lambkin.http11.busy_poll import BusyPoll
from lambkin.http11.exchange import HandOver, Reply, Request
from lambkin.http11.limits import DEFAULT_LIMITS, HEAD_TOO_LARGE, HEAD_TOO_SLOW, HeadLimits, HeadTooLarge
from lambkin.http11.phases import Phase, transition

log = logging.getLogger("lambkin.http")

MAX_QUEUED = 16  # pipelined requests read ahead of their answers before reading pauses
# After a refusal, what the client still sends is read and dropped this long before the connection closes:
# closed with unread bytes, a connection is reset, and the client would never read the refusal.
LINGER_S = 2.0


# header names as read (bytes) -> lowercased text: the same dozen names arrive request after request
_NAMES: dict[bytes, str] = {}
_NAMES_KEPT = 256
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")}


def _name(raw: bytes) -> str:
    """A header name lowercased, remembered (a client inventing names empties the memory, not grows it)."""
    if len(_NAMES) >= _NAMES_KEPT:
        _NAMES.clear()
    key = _NAMES[raw] = raw.decode("latin-1").lower()
    return key


def answer_and_close(
    transport: asyncio.Transport, answer: bytes, loop: asyncio.AbstractEventLoop
) -> asyncio.TimerHandle | None:
    """Writes a refusal and closes: after a linger (LINGER_S) that reads and drops what the client still
    sends, so that it sees the answer rather than a reset; at once where the transport cannot half-close.
    Returns the linger's timer, if any."""
    transport.write(answer)
    if not transport.can_write_eof():
        transport.close()
        return None
    transport.write_eof()
    return loop.call_later(LINGER_S, transport.close)


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (lambkin.compiled); the tests' kinds are not
class Connection(asyncio.Protocol):
    """One client connection. Subclasses implement `head_received` and `received` (and `successor` to hand
    over); `connections` tracks the open ones (uvicorn's shutdown calls each one's `shutdown`)."""

    def __init__(
        self,
        connections: set[Any],
        keep_alive_s: float | None = None,
        poll: BusyPoll | None = None,
        limits: HeadLimits = DEFAULT_LIMITS,
    ) -> None:
        self.phase = Phase.OPEN
        self.transport: asyncio.Transport | None = None
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._request: Request | None = None  # the one being read
        self._url: list[bytes] = []
        self._headers: dict[str, str] = {}  # the head being read: names lowercased, repeats joined
        self._chunks: list[bytes] = []
        self._limit = 0
        # the head being read: its size so far (whole lines, and every byte of reads it spans), its deadline
        self._limits = limits
        self._in_head = False
        self._head_lines = 0
        self._head_raw = 0
        self._head_overdue: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._owed: deque[Reply] = deque()  # answers owed, oldest first
        self._paused = False
        # a request's bytes while it began at the start of a read (a hand-over replays them)
        self._feed = b""  # the bytes being parsed
        self._ended_in_feed = False  # a request ended within them (so a later one began mid-read)
        self._raw: list[bytes] | None = None
        self._hand_over_bytes = b""
        self._raised: Exception | None = None  # what a parser callback raised (see data_received)
        # keep-alive: one timer per connection, pushed back lazily rather than re-made per request
        self._keep_alive_s = keep_alive_s
        self._idle: asyncio.TimerHandle | None = None
        self._active_at = 0.0  # the last read or answer
        # a client that sends its next request right after each answer: the loop polls for it
        self._poll = poll
        self._answered_at: float | None = None  # the last thing done was an answer, then
        self._gap_s: float | None = None  # answer -> next request, moving average
        self._next_request: asyncio.Future[None] | None = None
        # its cycles (a request's arrival to the next's) after latency-bound answers: the poll's trial
        self._arrived_at: float | None = None
        self._arrived_epoch = 0
        self._cycle_open = False

    # what a subclass says
    def head_received(self, request: Request) -> int:
        """The most body bytes this request may keep (raise HandOver to pass the connection on)."""
        raise NotImplementedError

    def received(self, request: Request, reply: Reply) -> None:
        """A whole request; `reply` is its answer, to send now or later."""
        raise NotImplementedError

    def successor(self) -> asyncio.Protocol:
        """The protocol that takes the connection over after a HandOver."""
        raise NotImplementedError

    def cut_short(self, request: Request) -> None:
        """The connection ended within `request`'s body: its head came whole, its body never will."""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        if self.phase is Phase.CLOSED:  # aborted between its accept and now
            self.transport.abort()
            return
        self._connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.phase is not Phase.CLOSED:
            self.phase = transition(self.phase, Phase.CLOSED)
        request, self._request = self._request, None
        if request is not None and request.method:  # its head was read: it ended within its body
            self.cut_short(request)
        self._connections.discard(self)
        self._disarm_idle()
        self._end_head()
        if self._linger is not None:
            self._linger.cancel()
        self._request_arrived(arrived=False)

    def data_received(self, data: bytes) -> None:
        if self.phase is Phase.CLOSED:  # refused, lingering: dropped
            return
        if self._answered_at is not None:
            self._request_arrived()
        if self._keep_alive_s is not None:
            self._active_at = self._loop.time()
        if self.phase is Phase.HANDING_OVER:  # waiting for earlier answers before handing over
            self._hand_over_bytes += data
            return
        self._feed, self._ended_in_feed = data, False
        if self._raw is not None:
            self._raw.append(data)  # more of a head that began at the start of an earlier read
        if self._in_head:  # a read that begins within a head and ends within it is all head
            self._head_raw += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as failure:
            # what a callback raised, as it recorded it: httptools' __context__ is the thread's exception
            # state, which a compiled coroutine suspended in an except block can leave stale
            cause, self._raised = self._raised or failure.__context__, None
            if isinstance(cause, HandOver):
                self._begin_hand_over()
                return
            if isinstance(cause, HeadTooLarge):
                self.abort(HEAD_TOO_LARGE)
                return
            log.error("reading a request failed", exc_info=cause)
            self.abort(wire.SERVER_ERROR)
            return
        except (httptools.HttpParserUpgrade, httptools.HttpParserError):
            self.abort(wire.BAD_REQUEST)
            return
        if self._in_head:  # a head still arriving: its deadline runs (a head read whole in one read has none)
            if self._head_raw > self._limits.head_bytes:  # one line, dribbled without end
                self.abort(HEAD_TOO_LARGE)
            elif self._head_overdue is None:
                self._head_overdue = self._loop.call_later(self._limits.deadline_s, self._head_too_slow)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close now if idle, else once the answers owed are written."""
        if self.phase not in (Phase.OPEN, Phase.HANDING_OVER):
            return
        self.phase = transition(self.phase, Phase.DRAINING)
        if self._between_requests and self.transport is not None:
            self.transport.close()

    def raw_head(self, request: Request) -> bytes:
        """`request`'s head as its bytes came (its request line to its blank line), for `head_received` to
        ask; empty when the request began within an earlier one's read (its first bytes are not kept)."""
        raw = self._raw
        if raw is None:
            return b""
        data = raw[0] if len(raw) == 1 else b"".join(raw)
        end = data.find(b"\r\n\r\n")
        return data[: end + 4] if end > 0 and data.startswith(request.method.encode("latin-1")) else b""

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._raw = None if self._ended_in_feed else [self._feed]
        self._request = request = Request()
        self._url, self._headers, self._chunks = [], request.headers, []
        self._in_head, self._head_lines, self._head_raw = True, 0, 0

    def on_url(self, url: bytes) -> None:
        parts = self._url
        parts.append(url)
        self._head_grew(len(url), len(url) if len(parts) == 1 else sum(map(len, parts)))

    def on_header(self, name: bytes, value: bytes) -> None:
        # _head_grew, inline (a call per header): the line with ": ", the head with CRLF too
        size = len(name) + len(value)
        self._head_lines += size + 4
        if size + 2 > self._limits.line_bytes or self._head_lines > self._limits.head_bytes:
            raise self._raise(HeadTooLarge())
        key = _NAMES.get(name)
        if key is None:
            key = _name(name)
        text, headers = value.decode("latin-1"), self._headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        request = self._request
        assert request is not None
        self._end_head()
        method = self._parser.get_method()
        request.method = _METHODS.get(method) or method.decode("latin-1")
        url = self._url
        request.target = (url[0] if len(url) == 1 else b"".join(url)).decode("latin-1")
        try:
            self._limit = self.head_received(request)
        except Exception as refusal:
            self._raised = refusal
            raise
        self._raw = None
        expect = request.headers.get("expect")
        if expect is not None and expect.lower() == "100-continue" and self.transport is not None:
            self.transport.write(wire.CONTINUE)

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        request.size += len(body)
        if request.size <= self._limit:
            self._chunks.append(body)
        else:
            request.truncated = True
            self._chunks = []  # read and dropped: the answer says it was too large

    def on_message_complete(self) -> None:
        request = self._request
        assert request is not None
        chunks = self._chunks
        if not request.truncated and chunks:
            request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._request, self._chunks = None, []
        self._ended_in_feed = True
        reply = Reply(self, self._parser.should_keep_alive())
        self._owed.append(reply)
        if len(self._owed) >= MAX_QUEUED and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        try:
            self.received(request, reply)
        except Exception as failure:
            self._raised = failure
            raise

    # the head's limits
    def _head_grew(self, added: int, line: int) -> None:
        self._head_lines += added
        if self._limits.exceeded(line, self._head_lines):
            raise self._raise(HeadTooLarge())

    def _raise(self, failure: Exception) -> Exception:
        """`failure`, recorded for data_received as what a callback of the parser raised."""
        self._raised = failure
        return failure

    def _end_head(self) -> None:
        self._in_head = False
        if self._head_overdue is not None:
            self._head_overdue.cancel()
            self._head_overdue = None

    def _head_too_slow(self) -> None:
        self._head_overdue = None
        if self._in_head:
            self._in_head = False
            self.abort(HEAD_TOO_SLOW)

    # answers
    def owes_first(self, reply: Reply) -> bool:
        return bool(self._owed) and self._owed[0] is reply

    def write(self, data: bytes) -> None:
        if self.phase is not Phase.CLOSED and self.transport is not None:
            self.transport.write(data)

    def flush(self) -> None:
        """Writes every complete answer at the head of the queue; then either closes, or goes on."""
        owed, transport = self._owed, self.transport
        if self.phase is Phase.CLOSED or transport is None:
            return
        poll_next = False
        while owed and owed[0].data is not None:
            reply = owed.popleft()
            if reply.data:
                transport.write(reply.data)
            reply.data = None
            if not reply.keep_alive:
                transport.close()
                return
            poll_next = reply.poll_next
        if self._paused and self.phase is not Phase.HANDING_OVER and len(owed) < MAX_QUEUED // 2:
            self._paused = False
            transport.resume_reading()
        if owed:
            return
        if self.phase is Phase.HANDING_OVER:
            self._hand_over()
        elif self._request is None:
            if self.phase is Phase.DRAINING:
                transport.close()
            else:
                self._arm_idle()
                self._await_next_request(poll_next)

    def abort(self, answer: bytes = b"") -> None:
        """Writes `answer` (if any) and closes, whatever else is owed or unread: at once without an answer,
        else after it and a linger (LINGER_S) for the bytes the client sends meanwhile."""
        transport = self.transport
        if transport is not None and self.phase is not Phase.CLOSED:
            if answer:
                self._linger = answer_and_close(transport, answer, self._loop)
            else:
                transport.abort()
        if self.phase is not Phase.CLOSED:
            self.phase = transition(self.phase, Phase.CLOSED)

    # polling for the next request of a quick client
    def _await_next_request(self, poll: bool) -> None:
        if self._poll is None:
            return  # nobody polls: the gap to the next request is nobody's business
        self._answered_at = self._poll.clock()  # not loop.time(): uvloop's counts whole milliseconds
        self._cycle_open = poll and self._arrived_at is not None
        if poll and self._gap_s is not None:
            self._next_request = self._loop.create_future()
            self._poll.hold(self._next_request, self._gap_s)

    def _request_arrived(self, arrived: bool = True) -> None:
        poll = self._poll
        if self._answered_at is not None and poll is not None:
            now = poll.clock()
            gap = now - self._answered_at
            self._gap_s = gap if self._gap_s is None else 0.8 * self._gap_s + 0.2 * gap
            self._answered_at = None
            if arrived:
                if self._cycle_open and self._arrived_at is not None:
                    poll.cycle(self._arrived_epoch, now - self._arrived_at)
                self._arrived_at, self._arrived_epoch = now, poll.epoch
        self._cycle_open = False
        if self._next_request is not None and not self._next_request.done():
            self._next_request.set_result(None)
        self._next_request = None

    # handing the connection over to another protocol
    def _begin_hand_over(self) -> None:
        # Pipelined behind another request in the same read, its first bytes are gone: refused with a 400
        # after the earlier answers.
        head_lost = self._raw is None
        self._hand_over_bytes = b"" if head_lost else b"".join(self._raw or ())
        self._raw, self._request = None, None  # the request is the successor's
        if self.phase is Phase.DRAINING:  # closes once the answers owed are written
            if not self._owed and self.transport is not None:
                self.transport.close()
            return
        self.phase = transition(self.phase, Phase.HANDING_OVER)
        if head_lost:
            self._owed.append(_refused(self))
        self._hand_over()
        if head_lost:
            self.flush()

    def _hand_over(self) -> None:
        """Gives the connection to `successor()` from the current request on, once every earlier answer is
        out."""
        transport = self.transport
        if transport is None:
            return
        if self._owed:
            if not self._paused:
                self._paused = True
                transport.pause_reading()
            return  # flush() comes back here
        self.phase = transition(self.phase, Phase.HANDED_OVER)
        data, self._hand_over_bytes = self._hand_over_bytes, b""
        self._disarm_idle()
        self._connections.discard(self)
        if self._paused:
            self._paused = False
            transport.resume_reading()
        protocol = self.successor()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    # idle keep-alive connections
    @property
    def _between_requests(self) -> bool:
        """No request being read, nor answered."""
        return not (self._owed or self._request is not None)

    def _arm_idle(self) -> None:
        if self._keep_alive_s is None:
            return  # no idle timeout (a runtime's connection): nothing to keep the time of
        self._active_at = self._loop.time()
        if self._idle is None:
            self._idle = self._loop.call_later(self._keep_alive_s, self._close_idle)

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _close_idle(self) -> None:
        self._idle = None
        if self.transport is None or self.phase is Phase.CLOSED or self._keep_alive_s is None:
            return
        quiet_for = self._loop.time() - self._active_at
        if not self._between_requests or quiet_for < self._keep_alive_s:
            self._idle = self._loop.call_later(max(self._keep_alive_s - quiet_for, 0.1), self._close_idle)
            return
        self.transport.close()


def _refused(conn: Connection) -> Reply:
    """The 400 owed, in its place in line, to a request whose first bytes were lost (see _begin_hand_over)."""
    reply = Reply(conn, keep_alive=False)
    reply.sent, reply.data = True, wire.BAD_REQUEST
    return reply
