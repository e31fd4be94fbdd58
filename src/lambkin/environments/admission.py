"""The host's init slots: cold starts run their init at most `slots` at a time, the others queue in arrival
order (`scaling.admit_start` decides; this keeps the count and the queue)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import assert_never

from lambkin.environments.scaling import InitLoad, StartVerdict, admit_start


class InitGate:
    """Counts the inits under way on this host, every function's, and queues the starts beyond its slots.

    A start `enter()`s before its sandbox is created and `leave()`s when its init ends (ready, failed or timed
    out), so the init clock (from the runtime's start) never runs while a start waits here.
    """

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self.initializing = 0
        # Each queued start's turn, in arrival order; a turn already done is a start woken for a free slot
        # that has not resumed yet (it still counts as queued, so that no newcomer takes its slot).
        self._turns: deque[asyncio.Future[None]] = deque()

    def queued(self) -> int:
        return len(self._turns)

    async def enter(self, unserved: Callable[[], int] | None) -> bool:
        """Waits for an init slot. True: the init may run now (`leave()` once it ends). False: the start is
        not needed any more, `unserved()` (its callers still without an environment or an init under way)
        fell to zero while it waited. `unserved` None: a start needed whatever happens (provisioned)."""
        queued_before = self.queued()
        woken = False
        while True:
            load = InitLoad(
                self.initializing, self.slots, queued_before, None if unserved is None else unserved()
            )
            verdict = admit_start(load)
            match verdict:
                case StartVerdict.BEGIN:
                    self.initializing += 1
                    return True
                case StartVerdict.DROP:
                    self._wake()  # a slot it was woken for goes to the next start
                    return False
                case StartVerdict.WAIT:
                    turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    if woken:
                        self._turns.appendleft(turn)  # keeps its place at the head
                    else:
                        self._turns.append(turn)
                    try:
                        await turn
                    except asyncio.CancelledError:
                        self._turns.remove(turn)
                        self._wake()  # a slot it was woken for goes to the next start
                        raise
                    self._turns.remove(turn)
                    woken, queued_before = True, 0
                case _:
                    assert_never(verdict)

    def leave(self) -> None:
        """An init ended: its slot goes to the longest-waiting start."""
        self.initializing -= 1
        self._wake()

    def _wake(self) -> None:
        """Wakes as many queued starts, in order, as there are free slots nobody has been woken for yet."""
        woken = sum(1 for turn in self._turns if turn.done())
        free = self.slots - self.initializing - woken
        for turn in self._turns:
            if free <= 0:
                return
            if not turn.done():
                turn.set_result(None)
                free -= 1
