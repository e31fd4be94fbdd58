"""Clock: the narrow interface every timed part reads time and sleeps through, and the system clock behind it."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


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
