"""How large a request's head may grow and how long it may take to arrive, and the refusals past them."""

from __future__ import annotations

from dataclasses import dataclass

HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
)
HEAD_TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """`line_bytes` bounds the request line and each header line, `head_bytes` them all together, and
    `deadline_s` the time from a head's first byte to its last."""

    line_bytes: int = 16 * 1024  # ALB's limits: 16 KiB a line, 64 KiB a head
    head_bytes: int = 64 * 1024
    deadline_s: float = 30.0

    def exceeded(self, line: int, head: int) -> bool:
        """Whether a line of `line` bytes, in a head of `head` bytes so far, is past the limits."""
        return line > self.line_bytes or head > self.head_bytes


class HeadTooLarge(Exception):
    """Raised from a parser callback: the head being read is past a HeadLimits size."""


DEFAULT_LIMITS = HeadLimits()
