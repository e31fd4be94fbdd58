"""Busy polling while a quick answer is due, where it pays: the loop tries both ways and keeps the faster.

An event loop with nothing to do sleeps in epoll; whatever arrives next then has to wake it through the
kernel. Two things are due quickly and often: a runtime's answer to a short invocation (environment.py), and
the next request of a client that sends one right after each answer (connection.py). While one of them is
expected, a polling loop keeps one callback scheduled instead, so it polls its sockets with a zero timeout
and never sleeps: for at most twice the wait it expects, and only for waits expected within `cap_s`.

Whether that pays is the machine's business (docs/design/warm-invoke.md). Waking a sleeping CPU is cheap on
bare metal and on a host that halt-polls, dear on a VM whose idle vCPU exits to a host that does not; and a
spinning loop takes a core that the runtime and the client, on a small machine, need for the very answer it
waits for. So a `Trial` decides by measuring: holds alternate in blocks between polling and sleeping, each
hold's wait is recorded as a multiple of the wait it expected, and the way with the shorter median wait is
kept for the next few thousand holds, then tried again. While polling, each turn also yields the core first
(`sched_yield`): a yield that took longer than `contended_s` means someone else ran, and the loop goes back
to sleep until the next hold.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("lambkin.http")


class Trial:
    """Whether polling pays on this machine now, found by trying it. `next_hold()` says how the next hold
    waits (poll or sleep) and whether its wait is measured; `record()` takes the measured wait, as a
    multiple of the expected one.

    A trial alternates blocks of `block` holds between polling and sleeping until each way has
    `samples` waits; the verdict polls only if polling's median wait is shorter than sleeping's by more
    than `margin` (polling costs a core, so a tie goes to sleeping). The verdict holds for `settle` holds,
    unmeasured; then a new trial starts."""

    def __init__(self, block: int = 16, samples: int = 64, settle: int = 4096, margin: float = 0.1) -> None:
        self.block = block
        self.samples = samples
        self.settle = settle
        self.margin = margin
        self.polling_pays: bool | None = None  # the last verdict; None before the first
        self.medians = (0.0, 0.0)  # the last trial's median waits, polling and sleeping
        self._waits: dict[bool, list[float]] = {True: [], False: []}  # polled?, waits of this trial
        self._holds = 0  # holds given out in this trial, or since the verdict
        self._trying = True

    def next_hold(self) -> tuple[bool, bool]:
        """(poll, measure) for the next hold."""
        index = self._holds
        self._holds += 1
        if self._trying:
            return (index // self.block) % 2 == 0, True
        if self._holds >= self.settle:
            self._trying, self._holds = True, 0
        return bool(self.polling_pays), False

    def record(self, polled: bool, wait: float) -> bool:
        """One measured hold's wait (a multiple of the wait it expected). True when it settles a trial."""
        if not self._trying:
            return False  # a late answer to a trial that is over
        waits = self._waits[polled]
        waits.append(wait)
        if len(waits) < self.samples or len(self._waits[not polled]) < self.samples:
            return False
        polled_wait, slept_wait = statistics.median(self._waits[True]), statistics.median(self._waits[False])
        self.medians = (polled_wait, slept_wait)
        self.polling_pays = polled_wait < (1 - self.margin) * slept_wait
        self._waits = {True: [], False: []}
        self._trying, self._holds = False, 0
        return True


class BusyPoll:
    """One per server: `hold(future, expected_s)` keeps the loop polling until `future` is done, twice the
    expected wait has passed, or another thread wants the core, whichever comes first, when and while its
    trial finds that polling pays."""

    def __init__(
        self,
        cap_s: float,
        clock: Callable[[], float] = time.monotonic,
        yield_core: Callable[[], None] = os.sched_yield,
        contended_s: float = 50e-6,
        trial: Trial | None = None,
    ) -> None:
        self.cap_s = cap_s
        self.clock = clock
        self.contended_s = contended_s  # a yield this long ran someone else: the core is not idle
        self.trial = trial or Trial()
        self._yield = yield_core
        self._held: list[tuple[asyncio.Future[Any], float]] = []  # while not empty, _spin is scheduled

    @property
    def polling(self) -> bool:
        """Whether the loop is being kept from sleeping now."""
        return bool(self._held)

    def hold(self, future: asyncio.Future[Any], expected_s: float) -> None:
        if expected_s <= 0 or expected_s > self.cap_s or future.done():
            return
        poll, measure = self.trial.next_hold()
        if measure:
            started = self.clock()
            future.add_done_callback(lambda _: self._measured(poll, (self.clock() - started) / expected_s))
        if not poll:
            return
        if not self._held:
            loop = future.get_loop()  # (asyncio.get_running_loop() costs a getpid() on Python 3.11)
            loop.call_soon(self._spin, loop)
        self._held.append((future, self.clock() + 2 * expected_s))

    def _measured(self, polled: bool, wait: float) -> None:
        trial = self.trial
        if trial.record(polled, wait):
            polled_wait, slept_wait = trial.medians
            verdict = "pays" if trial.polling_pays else "does not pay"
            log.info(
                "busy polling %s here: median wait %.2f polling, %.2f sleeping (of the wait expected)",
                verdict,
                polled_wait,
                slept_wait,
            )

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
