"""The host's init slots: cold starts run their init at most `slots` at a time, every function's together;
the others queue (`scaling.admit_start` and `scaling.next_start` decide; this keeps the counts and the queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import assert_never

from lambkin.environments.scaling import InitLoad, StartVerdict, admit_start, next_start


@dataclass(eq=False)
class _Turn:
    key: Hashable  # whose start it is (its pool)
    woken: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class InitGate:
    """Counts the inits under way on this host, every function's, and queues the starts beyond its slots.

    A start `enter()`s before its sandbox is created and `leave()`s when its init ends (ready, failed or timed
    out), so the init clock (from the runtime's start) never runs while a start waits here.
    """

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self.initializing = 0
        self._by_key: dict[Hashable, int] = {}  # inits under way per key
        # Queued starts in arrival order; a turn already woken is a start given a free slot that has not
        # resumed yet (it still counts as queued, so that no newcomer takes its slot).
        self._turns: list[_Turn] = []

    def queued(self) -> int:
        return len(self._turns)

    async def enter(self, key: Hashable, unserved: Callable[[], int] | None) -> bool:
        """Waits for an init slot. True: the init may run now (`leave(key)` once it ends). False: the start
        is not needed any more, `unserved()` (its callers still without an environment or an init under way)
        fell to zero while it waited. `unserved` None: a start needed whatever happens (provisioned)."""
        queued_before = self.queued()
        while True:
            load = InitLoad(
                self.initializing, self.slots, queued_before, None if unserved is None else unserved()
            )
            verdict = admit_start(load)
            match verdict:
                case StartVerdict.BEGIN:
                    self.initializing += 1
                    self._by_key[key] = self._by_key.get(key, 0) + 1
                    return True
                case StartVerdict.DROP:
                    self._wake()  # a slot it was woken for goes to the next start
                    return False
                case StartVerdict.WAIT:
                    turn = _Turn(key)
                    self._turns.append(turn)
                    try:
                        await turn.woken
                    except asyncio.CancelledError:
                        self._turns.remove(turn)
                        self._wake()  # a slot it was woken for goes to the next start
                        raise
                    self._turns.remove(turn)
                    queued_before = 0  # woken for a slot of its own
                case _:
                    assert_never(verdict)

    def leave(self, key: Hashable) -> None:
        """An init ended: its slot goes to the next queued start."""
        self.initializing -= 1
        left = self._by_key[key] - 1
        if left:
            self._by_key[key] = left
        else:
            del self._by_key[key]
        self._wake()

    def _wake(self) -> None:
        """Wakes as many queued starts as there are free slots nobody has been woken for yet, each chosen by
        `next_start` (a woken start counts as under way for its function)."""
        waiting = [turn for turn in self._turns if not turn.woken.done()]
        under_way = dict(self._by_key)
        for turn in self._turns:
            if turn.woken.done():
                under_way[turn.key] = under_way.get(turn.key, 0) + 1
        free = self.slots - self.initializing - (len(self._turns) - len(waiting))
        while free > 0:
            index = next_start([turn.key for turn in waiting], under_way)
            if index is None:
                return
            turn = waiting.pop(index)
            turn.woken.set_result(None)
            under_way[turn.key] = under_way.get(turn.key, 0) + 1
            free -= 1
