"""The bytes of HTTP/1.1 answers: status lines, heads built in one encode, the Date header, fixed answers."""

from __future__ import annotations

import email.utils
import http
import time
from collections.abc import Iterable

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
SERVER_ERROR = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"
NO_CONTENT = frozenset({204, 304})  # a body-less answer: no body, and no content-length either

_status_lines: dict[int, str] = {}
_date: tuple[int, str] = (0, "")


def status_line(status: int) -> str:
    """`HTTP/1.1 200 OK\\r\\n`, made once per status."""
    line = _status_lines.get(status)
    if line is None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _status_lines[status] = f"HTTP/1.1 {status} {phrase}\r\n"
    return line


def date_header() -> str:
    """The Date header line, made once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, f"date: {email.utils.formatdate(now, usegmt=True)}\r\n")
    return _date[1]


def head(status: int, headers: Iterable[tuple[str, str]], length: int | None, keep_alive: bool) -> bytes:
    """An answer's head. `length` None means a chunked body; a 204 or 304 gets no length at all."""
    lines = [status_line(status)]
    for name, value in headers:
        if "\r" in value or "\n" in value:  # never let a value end the head early
            value = value.replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}: {value}\r\n")
    lines.append(date_header())
    if length is None:
        lines.append("transfer-encoding: chunked\r\n")
    elif status not in NO_CONTENT:
        lines.append(f"content-length: {length}\r\n")
    if not keep_alive:
        lines.append("connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)
