"""Head limits for a connection served by another HTTP/1.1 protocol (uvicorn's, after the front door's hand-over).

The guard stands between the transport and that protocol: it reads the same bytes with a parser of its own
that only measures heads (no body callbacks: llhttp steps over bodies), passes every byte on, and answers a
head past its HeadLimits with a 431, or one too slow to arrive with a 408, and closes, as the front door
does for the first request.
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools

from lambkin.http11.connection import answer_and_close
from lambkin.http11.limits import HEAD_TOO_LARGE, HEAD_TOO_SLOW, HeadLimits, HeadTooLarge


class HeadGuard(asyncio.Protocol):
    """Wraps `inner`, holding the heads of every request it is given to `limits`."""

    def __init__(self, inner: asyncio.Protocol, limits: HeadLimits) -> None:
        self._inner = inner
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._refused = False
        self._in_head = False
        self._url = 0  # the request line's target so far
        self._head = 0  # the head's lines so far
        self._raw = 0  # every byte of the reads the head spans
        self._overdue: asyncio.TimerHandle | None = None

    # asyncio.Protocol, passed on
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after the refusal: dropped
        if self._parser is not None:
            if self._in_head:
                self._raw += len(data)
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserCallbackError:  # HeadTooLarge, from a callback
                self._refuse(HEAD_TOO_LARGE)
                return
            except (httptools.HttpParserUpgrade, httptools.HttpParserError):
                self._parser = None  # malformed or upgraded: the inner protocol answers, and is on its own
                self._end_head()
            if self._in_head and self._raw > self._limits.head_bytes:  # one line, dribbled without end
                self._refuse(HEAD_TOO_LARGE)
                return
        self._inner.data_received(data)

    # httptools callbacks: the head's size and deadline
    def on_message_begin(self) -> None:
        self._in_head, self._url, self._head, self._raw = True, 0, 0, 0
        self._overdue = self._loop.call_later(self._limits.deadline_s, self._too_slow)

    def on_url(self, url: bytes) -> None:
        self._url += len(url)
        self._grew(len(url), self._url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grew(len(name) + len(value) + 4, len(name) + len(value) + 2)  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._end_head()

    def _grew(self, added: int, line: int) -> None:
        self._head += added
        if self._limits.exceeded(line, self._head):
            raise HeadTooLarge

    def _end_head(self) -> None:
        self._in_head = False
        if self._overdue is not None:
            self._overdue.cancel()
            self._overdue = None

    def _too_slow(self) -> None:
        self._overdue = None
        if self._in_head:
            self._refuse(HEAD_TOO_SLOW)

    def _refuse(self, answer: bytes) -> None:
        """Writes the refusal and closes after a linger, as the front door does (`answer_and_close`)."""
        self._refused = True
        self._end_head()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        answer_and_close(transport, answer, self._loop)
