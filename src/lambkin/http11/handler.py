"""A connection whose every request goes to one function, with a body limit by method and path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambkin.http11.connection import Connection
from lambkin.http11.exchange import Reply, Request
from lambkin.http11.limits import DEFAULT_LIMITS, HeadLimits

Handler = Callable[[Request, Reply], None]
BodyLimit = Callable[[str, str], int]
CutShort = Callable[[Request], None]


class HandlerConnection(Connection):
    """Requests are handed to `handler` as they complete (in order); its replies may come later, in any
    order, and are written in request order. No idle timeout: the client (a runtime) holds it open.
    `cut`, if given, hears of a request whose body the connection's end cut short."""

    def __init__(
        self,
        handler: Handler,
        body_limit: BodyLimit,
        connections: set[Any] | None = None,
        limits: HeadLimits = DEFAULT_LIMITS,
        cut: CutShort | None = None,
    ) -> None:
        super().__init__(set() if connections is None else connections, limits=limits)
        self._handler = handler
        self._body_limit = body_limit
        self._cut = cut

    def head_received(self, request: Request) -> int:
        return self._body_limit(request.method, request.path)

    def received(self, request: Request, reply: Reply) -> None:
        self._handler(request, reply)

    def cut_short(self, request: Request) -> None:
        if self._cut is not None:
            self._cut(request)
