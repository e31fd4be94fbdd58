"""One request and the answer owed to it, as a connection's subclass sees them (connection.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lambkin.http11 import wire
from lambkin.http11.phases import Phase

if TYPE_CHECKING:
    from lambkin.http11.connection import Connection


class HandOver(Exception):
    """Raised by `head_received`: this request, and the connection from it on, belong to another protocol."""


@dataclass(slots=True)
class Request:
    """One parsed request. `size` counts every body byte; `body` keeps at most the head's limit."""

    method: str = ""
    target: str = ""  # as sent: the path and the query
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased; repeats joined with ","
    body: bytes = b""
    size: int = 0
    truncated: bool = False  # the body grew past the limit and was discarded
    head: bytes = b""  # the head as it came, where the subclass kept it (Connection.raw_head)

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The raw query string, without "?"."""
        return self.target.partition("?")[2]


class Reply:
    """The one answer owed to one request: sent now or later, at most once, and written in request order."""

    __slots__ = ("_conn", "data", "keep_alive", "poll_next", "sent")

    def __init__(self, conn: Connection, keep_alive: bool) -> None:
        self._conn = conn
        self.keep_alive = keep_alive  # the request allows it; at shutdown the answer closes anyway
        self.poll_next = False  # a latency-bound answer: poll for the client's next request (busy_poll.py)
        self.data: bytes | None = None  # the answer, once it is ready and not yet written
        self.sent = False

    @property
    def open(self) -> bool:
        return self._conn.phase is not Phase.CLOSED

    def head(self, status: int, headers: Iterable[tuple[str, str]], length: int | None) -> bytes:
        """The answer's head (`length` None: a chunked body); from here on whether it keeps alive is fixed."""
        self.keep_alive = self.keep_alive and self._conn.phase is not Phase.DRAINING
        return wire.head(status, headers, length, self.keep_alive)

    def send(
        self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = (), head_only: bool = False
    ) -> None:
        """The whole answer at once; `head_only` (HEAD) keeps its length but leaves its body out."""
        if self.sent:
            return
        data = self.head(status, headers, len(body))
        if body and not head_only and status not in wire.NO_CONTENT:
            data += body
        self.finish(data)

    def write(self, data: bytes) -> None:
        """Part of a streamed answer, written now: only the oldest answer owed may stream."""
        assert self._conn.owes_first(self)
        self._conn.write(data)

    def finish(self, data: bytes = b"") -> None:
        """The answer's last bytes: it is complete."""
        if self.sent:
            return
        self.sent = True
        self.data = data
        self._conn.flush()

    def fail(self) -> None:
        """Writing the answer failed: the connection closes after what was already written."""
        self.keep_alive = False
        self.finish()
