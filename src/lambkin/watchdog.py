"""One timer for a run of deadlines, one in flight at a time: an environment's invocations, one after another,
and the exchanges of a kept connection to a peer.

Made and cancelled per exchange, a timer costs the loop more than most steps of a warm invoke; armed once,
it serves exchange after exchange: a quick answer leaves it armed for a later deadline, and when it fires
before the deadline in flight (its own exchange answered long ago), it re-arms itself for that one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_SLACK_S = 0.001  # the loop's timers keep millisecond time: one may fire that much early


class Watchdog:
    """Calls `expire` once the deadline armed last (in the loop's time) has passed. `expire` finds out for
    itself whether anything is still in flight: the timer may outlive the exchange it was armed for."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Callable[[], None]) -> None:
        self._loop, self._expire = loop, expire
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def arm(self, deadline: float) -> None:
        """Watches `deadline`, the one of the exchange now in flight."""
        self._deadline = deadline
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def cancel(self) -> None:
        """Nothing more to watch (the owner ends)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._loop.time() >= self._deadline - _SLACK_S:
            self._expire()
        else:
            self.arm(self._deadline)
