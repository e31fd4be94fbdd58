"""The timer: records each due firing of every enabled schedule (scheduled rules and Scheduler schedules),
then delivers recorded firings, retrying with back-off until the schedule's retry policy gives up.

In a cluster exactly one node fires: the one holding the lease `timer:schedules`, re-checked every tick, and
every recording transaction is fenced by it. After downtime, every missed firing still within the
schedule's maximum event age is recorded and delivered (AWS would have delivered it then and retries an
event up to that age); older ones are skipped, as expired.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from lambkin.clock import SYSTEM_CLOCK, Clock, tick_forever
from lambkin.events.bridge.outlets import Failure
from lambkin.events.schedules.expressions import Expression, next_firing
from lambkin.events.schedules.firings import Firing, FiringStore
from lambkin.store import Connection

log = logging.getLogger("lambkin.events.schedules")

LEASE = "timer:schedules"
TICK_S = 1.0
LOOKAHEAD_S = 2.0  # firings due this soon are recorded ahead, so only their delivery remains at their time
CATCH_UP_LIMIT = 1440  # firings one schedule may record in one tick (a day of rate(1 minute))
BATCH = 1000  # firings delivered in one round, their rows then forgotten in one transaction
PARALLEL = 64


@dataclass(frozen=True, slots=True)
class Plan:
    """What the timer needs of one enabled schedule."""

    source: str  # its ARN
    expression: Expression
    tz: ZoneInfo
    anchor: float  # where a rate counts from
    since: float  # firings strictly after this (creation, or just before StartDate)
    end: float | None = None  # EndDate
    window_s: float = 0.0  # FlexibleTimeWindow: delivered at a random time this long after due
    max_age_s: float = 86400.0
    max_retries: int = 185

    def next_after(self, after: float) -> float | None:
        due = next_firing(self.expression, after, self.tz, self.anchor)
        return None if due is None or (self.end is not None and due > self.end) else due


class Provider(Protocol):
    """A kind of schedule: its enabled plans, and what a firing does."""

    def plans(self) -> Iterable[Plan]: ...

    def prepare(self, plan: Plan, firing: Firing) -> None:
        """Builds ahead what a firing due within LOOKAHEAD_S will send, so that at its time only the
        delivery remains."""
        ...

    async def fire(self, plan: Plan, firing: Firing, now: float) -> None:
        """Delivers a firing; a Failure that is not retryable gives up at once, any other error is
        retried."""
        ...

    async def give_up(self, plan: Plan, firing: Firing, failure: Failure) -> None: ...

    async def finished(self, plan: Plan) -> None:
        """The schedule's last firing is done (ActionAfterCompletion)."""
        ...


class Leases(Protocol):
    """The cluster's leases as the timer uses them (lambkin.cluster.Leases)."""

    def held(self, name: str) -> Any: ...

    async def claim(self, name: str) -> Any: ...

    def fence(self, conn: Connection, lease: Any) -> None: ...


@dataclass
class Timer:
    store: FiringStore
    providers: Sequence[Provider]
    leases: Leases
    clock: Clock = SYSTEM_CLOCK
    draw: Callable[[], float] = random.random
    _next: dict[tuple[Plan, float], float | None] = field(default_factory=dict)
    # recorded firings read back ahead of their time, with their plans: delivered first thing at their time
    _prepared: list[tuple[Firing, Plan, Provider]] = field(default_factory=list)

    async def run(self) -> None:
        await tick_forever(self.tick, self.clock, TICK_S, log, "the schedules' timer")

    async def tick(self) -> float:
        """One look: record what is due (or due within LOOKAHEAD_S), deliver what was recorded and whose
        time has come; how long to sleep before the next (until the next recorded firing falls due, so
        the timer wakes at its time rather than at the next second's look)."""
        lease = self.leases.held(LEASE) or await self.leases.claim(LEASE)
        if lease is None:
            self._prepared = []
            return TICK_S
        now = self.clock.now()
        early = [entry for entry in self._prepared if entry[0].next_attempt <= now]
        if early:  # read back by the last tick: their sends go before any other work of this one
            self._prepared = [entry for entry in self._prepared if entry[0].next_attempt > now]
            await self._fire([f for f, _, _ in early], {f.source: (p, pv) for f, p, pv in early}, now)
        plans = {plan.source: (plan, provider) for provider in self.providers for plan in provider.plans()}
        upcoming = await self._record(now, [plan for plan, _ in plans.values()], lease)
        upcoming = min(upcoming, await self._deliver(now, plans))
        return max(0.0, min(TICK_S, upcoming - self.clock.now()))

    def _next_after(self, plan: Plan, after: float) -> float | None:
        key = (plan, after)
        if key not in self._next:
            if len(self._next) > 100_000:
                self._next.clear()
            self._next[key] = plan.next_after(after)
        return self._next[key]

    async def _record(self, now: float, plans: Sequence[Plan], lease: object) -> float:
        cursors = await self.store.cursors()
        new: list[Firing] = []
        moved: dict[str, float] = {}
        upcoming = now + TICK_S
        for plan in plans:
            after = max(cursors.get(plan.source, plan.since), plan.since)
            start = after
            for _ in range(CATCH_UP_LIMIT):
                due = self._next_after(plan, after)
                if due is None:
                    break
                if due > now:
                    upcoming = min(upcoming, due)
                if due > now + LOOKAHEAD_S:
                    break
                if due >= now - plan.max_age_s:
                    new.append(Firing(plan.source, due, 0, due + self.draw() * plan.window_s))
                else:
                    log.warning(
                        "%s: the firing due at %.0f is older than its maximum age: skipped", plan.source, due
                    )
                after = due
            if after != start or plan.source not in cursors:
                moved[plan.source] = after
        if new or moved:
            await self.store.record(new, moved, lambda conn: self.leases.fence(conn, lease))
        return upcoming

    async def _deliver(self, now: float, plans: dict[str, tuple[Plan, Provider]]) -> float:
        """Delivers the recorded firings whose time has come; those due within LOOKAHEAD_S read back and
        prepared (their sends built) for the next tick; when the next of them falls due."""
        firings = await self.store.due(now + LOOKAHEAD_S, BATCH)
        ready = [firing for firing in firings if firing.next_attempt <= now]
        await self._fire(ready, plans, now)
        if len(ready) == BATCH:
            return now
        upcoming = [firing for firing in firings if firing.next_attempt > now]
        known = {entry[0] for entry in self._prepared}
        self._prepared = []
        for firing in upcoming:
            entry = plans.get(firing.source)
            if entry is not None:
                if firing not in known:  # prepared by an earlier tick already
                    entry[1].prepare(entry[0], firing)
                self._prepared.append((firing, *entry))
        return min((firing.next_attempt for firing in upcoming), default=now + TICK_S)

    async def _fire(self, ready: list[Firing], plans: dict[str, tuple[Plan, Provider]], now: float) -> None:
        """Delivers `ready` by PARALLEL workers (not a task each), then settles them (done, or moved to
        their retry) in one transaction; a schedule's last firing done finishes it."""
        queue = iter(ready)
        finished: list[Firing] = []
        retries: list[tuple[Firing, float]] = []
        last: list[tuple[Plan, Provider]] = []

        async def worker() -> None:
            for firing in queue:
                if self.leases.held(LEASE) is None:
                    return
                entry = plans.get(firing.source)
                retry = None if entry is None else await self._attempt(firing, entry, now)
                if retry is not None:
                    retries.append((firing, retry))
                    continue
                finished.append(firing)  # done, or its schedule deleted or disabled since
                if entry is not None and self._next_after(entry[0], firing.due) is None:
                    last.append(entry)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(PARALLEL, len(ready))):
                    group.create_task(worker())
        finally:
            await self.store.settle(finished, retries)
        for plan, provider in last:
            await provider.finished(plan)

    async def _attempt(self, firing: Firing, entry: tuple[Plan, Provider], now: float) -> float | None:
        """Delivers a firing; None once it is done with (delivered or given up), else when to retry it."""
        plan, provider = entry
        try:
            await provider.fire(plan, firing, now)
            return None
        except Failure as failure:
            if not failure.retryable:
                await provider.give_up(plan, firing, failure)
                return None
            error = failure
        except Exception as exc:  # any fault of a delivery is retried, then dead-lettered
            error = Failure("RETRIES_EXHAUSTED", str(exc), retryable=True)
        if firing.attempts >= plan.max_retries or now - firing.due >= plan.max_age_s:
            await provider.give_up(plan, firing, error)
            return None
        return now + min(2.0**firing.attempts, 60.0)


REFRESH_S = 5.0


async def refresh_periodically(
    refreshes: Sequence[Callable[[], Awaitable[None]]], clock: Clock = SYSTEM_CLOCK
) -> None:
    """In a cluster: every REFRESH_S, the rules and schedules as the store holds them, so the node that
    fires knows what the other nodes' APIs wrote."""
    while True:
        await clock.sleep(REFRESH_S)
        for refresh in refreshes:
            try:
                await refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refreshing rules or schedules from the store failed; the timer goes on")
