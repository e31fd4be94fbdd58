"""Busy polling while a quick answer is due, where it pays: the loop tries both ways and keeps the faster.

An event loop with nothing to do sleeps in epoll; whatever arrives next then has to wake it through the
kernel. Two things are due quickly and often: a runtime's answer to a short invocation (environment.py), and
the next request of a client that sends one right after each answer (connection.py). While one of them is
expected, a polling loop keeps one callback scheduled instead, so it polls its sockets with a zero timeout
and never sleeps: for at most twice the wait it expects, and only for waits expected within `cap_s`.

Whether that pays is the machine's business (docs/design/warm-invoke.md). Waking a sleeping CPU is cheap on
bare metal and on a host that halt-polls, dear on a VM whose idle vCPU exits to a host that does not; and a
spinning loop takes a core that the runtime and the client, on a small machine, need for the very answer it
waits for. So a `Trial` decides by measuring what a caller waits for: the cycle of a client that comes
straight back (its request's arrival to its next request's, on the same connection: lambkin's work, the
function's, every wake-up on the way and the client's own turn), which the connection reports. Blocks of
cycles sleeping, polling, then sleeping again (so that a drift, such as the machine settling after a cold
start, weighs on both ways alike), each long enough that the machine settles into its way (its first cycles
are not counted: whether a halted vCPU is dear to wake is partly the host's memory of recent halts, so
short alternating blocks measure both ways alike); the way with the shorter median cycle is kept for a few
thousand cycles and tried again. While polling, each turn also yields the core first (`sched_yield`):
a yield that took longer than `contended_s` means someone else ran, and the loop goes back to sleep until
the next hold.
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


_BLOCKS = (False, True, False)  # a trial's ways, block by block: sleeping, polling, sleeping


class Trial:
    """Whether polling pays on this machine now, found by trying it on the cycles of quick clients.

    `polls()` says how holds wait now; `record(epoch, cycle_s)` takes a cycle that began in `epoch` (one
    during which the way changed is not counted). A trial is three blocks of `block` cycles, sleeping,
    polling, sleeping (a drift weighs on both ways alike); each block's first `skip` cycles are not kept.
    The verdict polls only if polling's median cycle is shorter than sleeping's by more than `margin`
    (polling costs a core, so a tie goes to sleeping); it holds for `settle` cycles, then a new trial
    starts. Until a quick client's first cycle, holds sleep (work that has no such client, an SQS
    mapping's invokes, never has the loop spin)."""

    def __init__(self, block: int = 256, skip: int = 64, settle: int = 4096, margin: float = 0.1) -> None:
        if not 0 <= skip < block:
            raise ValueError("a block must keep some of its cycles")
        self.block = block
        self.skip = skip
        self.settle = settle
        self.margin = margin
        self.polling_pays: bool | None = None  # the last verdict; None before the first
        self.medians = (0.0, 0.0)  # the last trial's median cycles (s), polling and sleeping
        self.epoch = 0  # changes whenever the way holds wait changes
        self._cycles: dict[bool, list[float]] = {True: [], False: []}  # polled?, cycles kept in this trial
        self._polls = False  # the way holds wait now
        # cycles recorded in this block, or since the verdict; at first one short of a verdict running out,
        # so a quick client's first cycle begins the first trial (until then holds sleep)
        self._counted = settle - 1
        self._block = 0  # the trial's block (an index of _BLOCKS)
        self._trying = False

    def polls(self) -> bool:
        return self._polls

    def record(self, epoch: int, cycle_s: float) -> bool:
        """One cycle, begun in `epoch`. True when it settles a trial."""
        if epoch != self.epoch:
            return False  # the way changed within it
        self._counted += 1
        if not self._trying:
            if self._counted >= self.settle:
                self._begin()
            return False
        if self._counted > self.skip:
            self._cycles[self._polls].append(cycle_s)
        if self._counted < self.block:
            return False
        self._block += 1
        if self._block < len(_BLOCKS):
            self._switch(_BLOCKS[self._block])
            return False
        polled, slept = statistics.median(self._cycles[True]), statistics.median(self._cycles[False])
        self.medians = (polled, slept)
        self.polling_pays = polled < (1 - self.margin) * slept
        self._cycles = {True: [], False: []}
        self._trying = False
        self._switch(self.polling_pays)
        return True

    def _begin(self) -> None:
        self._trying, self._block = True, 0
        self._switch(_BLOCKS[0])

    def _switch(self, polls: bool) -> None:
        self._polls, self._counted = polls, 0
        self.epoch += 1


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
        if expected_s <= 0 or expected_s > self.cap_s or future.done() or not self.trial.polls():
            return
        if not self._held:
            loop = future.get_loop()  # (asyncio.get_running_loop() costs a getpid() on Python 3.11)
            loop.call_soon(self._spin, loop)
        self._held.append((future, self.clock() + 2 * expected_s))

    @property
    def epoch(self) -> int:
        """The trial's epoch now: what a cycle that begins now is recorded with."""
        return self.trial.epoch

    def cycle(self, epoch: int, cycle_s: float) -> None:
        """A quick client's cycle (its request's arrival to its next's), begun in `epoch`."""
        trial = self.trial
        if trial.record(epoch, cycle_s):
            polled, slept = trial.medians
            log.info(
                "busy polling %s here: median cycle %.0f µs polling, %.0f µs sleeping",
                "pays" if trial.polling_pays else "does not pay",
                polled * 1e6,
                slept * 1e6,
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
