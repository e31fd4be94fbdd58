"""ManualClock, the fake Clock: time moves only when a test says so (trio's MockClock is the model)."""

from __future__ import annotations

import asyncio
import itertools

START = 1_700_000_000.0


class ManualClock:
    """`now()` and `monotonic()` read one manual time. `advance()` moves it and wakes every `sleep()` due
    by then; `wait_sleeping()` returns once enough tasks sleep on the clock, so a test knows the code under
    test has reached its sleep before it moves time on.

    With `autojump`, a sleep instead moves the time by its own length and returns at once: for code that
    backs off in a loop the test does not step through.
    """

    def __init__(self, start: float = START, *, autojump: bool = False) -> None:
        self._time = start
        self.autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def now(self) -> float:
        return self._time

    def monotonic(self) -> float:
        return self._time

    def advance(self, seconds: float) -> None:
        """Moves time `seconds` forward and wakes the sleepers due by then (they run at the next yield)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._time += seconds
        for entry in [e for e in self._sleepers if e[0] <= self._time]:
            self._sleepers.remove(entry)
            if not entry[2].done():
                entry[2].set_result(None)

    async def sleep(self, seconds: float) -> None:
        if self.autojump:
            self.advance(max(seconds, 0.0))
        if self.autojump or seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self._time + seconds, next(self._order), asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        self._changed.set()
        self._changed = asyncio.Event()
        try:
            await entry[2]
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    async def wait_sleeping(self, count: int = 1, deadline_s: float = 10.0) -> None:
        """Returns once at least `count` tasks sleep on this clock (within `deadline_s` of real time, so a
        broken test fails instead of hanging)."""
        async with asyncio.timeout(deadline_s):
            while len(self._sleepers) < count:
                await self._changed.wait()
