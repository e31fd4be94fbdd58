"""Clock: the narrow interface every timed part reads time and sleeps through, and the system clock behind it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol


class Clock(Protocol):
    """Wall seconds for times that are stored or shown (visibility, event ages, LastModified), monotonic
    seconds for durations (idle times, backoffs, scaling), and a sleep on the same time.

    `lambkin.testing.clock.ManualClock` is its fake: time moves only when a test says so.
    """

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks and asyncio's sleep."""

    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


async def tick_forever(
    tick: Callable[[], Awaitable[float]], clock: Clock, after_failure_s: float, log: logging.Logger, what: str
) -> NoReturn:
    """Runs `tick` again and again, sleeping what it returns between rounds; a round that fails is logged
    (`what` failed a round) and the next comes `after_failure_s` later."""
    while True:
        try:
            wait = await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed a round; it goes on", what)
            wait = after_failure_s
        await clock.sleep(wait)
