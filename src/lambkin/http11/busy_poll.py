"""Busy polling while a quick answer is due.

An event loop with nothing to do sleeps in epoll; whatever arrives next then has to wake it through the
kernel, and on a virtual machine waking a sleeping CPU (an inter-processor interrupt) can cost more than a
small function itself. Two things are due quickly and often: a runtime's answer to a short invocation
(environment.py), and the next request of a client that sends one right after each answer (the front
door). While one of them is expected within its window, the loop keeps one callback scheduled instead, so it
polls its sockets with a zero timeout and never sleeps. Each window is twice the recent wait it stands for
(an invocation's duration, a connection's gap between answer and request); a wait expected to be longer
than `cap_s` is not polled for at all, so the CPU spent this way stays within the waits it shortens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class BusyPoll:
    """One per server: `hold(future, window_s)` keeps the loop polling until `future` is done or the window
    has passed, whichever comes first."""

    def __init__(self, cap_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap_s = cap_s
        self.clock = clock
        self._held: list[tuple[asyncio.Future[Any], float]] = []  # while not empty, _spin is scheduled

    @property
    def polling(self) -> bool:
        """Whether the loop is being kept from sleeping now."""
        return bool(self._held)

    def hold(self, future: asyncio.Future[Any], window_s: float) -> None:
        if window_s <= 0 or window_s > self.cap_s or future.done():
            return
        if not self._held:
            asyncio.get_running_loop().call_soon(self._spin)
        self._held.append((future, self.clock() + window_s))

    def _spin(self) -> None:
        now = self.clock()
        self._held = [(future, until) for future, until in self._held if not future.done() and until > now]
        if self._held:
            asyncio.get_running_loop().call_soon(self._spin)
