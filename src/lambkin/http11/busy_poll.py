"""Busy polling while a quick answer is due, on a core nobody else wants.

An event loop with nothing to do sleeps in epoll; whatever arrives next then has to wake it through the
kernel, and on a virtual machine waking a sleeping CPU (an inter-processor interrupt) can cost more than a
small function itself. Two things are due quickly and often: a runtime's answer to a short invocation
(environment.py), and the next request of a client that sends one right after each answer (connection.py).
While one of them is expected, the loop keeps one callback scheduled instead, so it polls its sockets with a
zero timeout and never sleeps: for at most twice the wait it expects (an invocation's recent duration, a
connection's recent gap between answer and request), and only for waits expected within `cap_s`.

Polling pays only on a core that would otherwise be idle. On a small machine the loop, the runtime in its
sandbox and the client share the cores, and the scheduler often wakes the runtime or the client on the very
core the loop spins on (the waker's): a plain spin then delays the answer it waits for, by up to a
scheduler slice. So each turn yields the core first (`sched_yield`), and a yield that took longer than
`contended_s` means someone else ran: the core is wanted, and the loop goes back to sleeping until the next
hold. Busy or quiet, polling then costs at most a yield's worth of the core that the others need.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any


class BusyPoll:
    """One per server: `hold(future, expected_s)` keeps the loop polling until `future` is done, twice the
    expected wait has passed, or another thread wants the core, whichever comes first."""

    def __init__(
        self,
        cap_s: float,
        clock: Callable[[], float] = time.monotonic,
        yield_core: Callable[[], None] = os.sched_yield,
        contended_s: float = 50e-6,
    ) -> None:
        self.cap_s = cap_s
        self.clock = clock
        self.contended_s = contended_s  # a yield this long ran someone else: the core is not idle
        self._yield = yield_core
        self._held: list[tuple[asyncio.Future[Any], float]] = []  # while not empty, _spin is scheduled

    @property
    def polling(self) -> bool:
        """Whether the loop is being kept from sleeping now."""
        return bool(self._held)

    def hold(self, future: asyncio.Future[Any], expected_s: float) -> None:
        if expected_s <= 0 or expected_s > self.cap_s or future.done():
            return
        if not self._held:
            loop = future.get_loop()  # (asyncio.get_running_loop() costs a getpid() on Python 3.11)
            loop.call_soon(self._spin, loop)
        self._held.append((future, self.clock() + 2 * expected_s))

    def _spin(self, loop: asyncio.AbstractEventLoop) -> None:
        before = self.clock()
        self._yield()
        now = self.clock()
        if now - before > self.contended_s:
            self._held = []  # the core is wanted: sleep, and let the answer wake the loop
            return
        self._held = [(future, until) for future, until in self._held if not future.done() and until > now]
        if self._held:
            loop.call_soon(self._spin, loop)
