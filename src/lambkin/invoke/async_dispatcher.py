"""The async dispatcher: drains each function's stored events through the sync Invoker, under its limits."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, assert_never

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.cluster.leases import Lease, LeaseLost
from lambkin.cluster.owners import Owners, solo_owners
from lambkin.environments.results import SANDBOX_FAILURE, FunctionError, Success
from lambkin.invoke.async_destinations import Attempt, Destinations, destination_record
from lambkin.invoke.async_lifecycle import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_MAX_RETRIES,
    EVENT_AGE_EXCEEDED,
    ZERO_RESERVED,
    AsyncEvent,
    EventAction,
    Finish,
    Kind,
    Retry,
    RetryPolicy,
    Wait,
    decide,
    too_old,
)
from lambkin.invoke.async_store import INLINE_LIMIT, EventStore
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.targets import FunctionBusy, FunctionGone, Resolve, Target
from lambkin.store import Connection

log = logging.getLogger("lambkin.invoke.async")

IDLE_WAIT_S = 60.0


class AsyncConfig(Protocol):
    """The event invoke config fields the dispatcher reads (None: Lambda's default)."""

    @property
    def max_retries(self) -> int | None: ...
    @property
    def max_age_s(self) -> int | None: ...
    @property
    def on_success(self) -> str | None: ...
    @property
    def on_failure(self) -> str | None: ...


class Runner(Protocol):
    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult: ...


Configs = Callable[[str, str | None], Awaitable[AsyncConfig | None]]
Announce = Callable[[Connection, str, Sequence[str]], None]
"""(connection, function, request IDs): tells the node that dispatches the function's events of new ones,
inside the unit of work that stores them (the cluster's bus; nothing with one node)."""


def _silent(conn: Connection, function: str, request_ids: Sequence[str]) -> None:
    return None


@dataclass(frozen=True)
class DispatchSettings:
    scale: float = 1.0  # every back-off and maximum age times this (1.0: Lambda's)
    per_function: int = 16  # async invokes in flight per function at most (0: every event held back, stored)


def route(
    decision: Finish, config: AsyncConfig | None, dead_letter_arn: str | None
) -> tuple[str | None, str | None]:
    """Where a finished event goes: (the destination for its outcome, the dead-letter queue), each or None."""
    if decision.succeeded:
        return (config.on_success if config is not None else None) or None, None
    return (config.on_failure if config is not None else None) or None, dead_letter_arn or None


class Dispatcher:
    """Owns the in-memory view of the stored events of the functions this node dispatches (those whose lease
    `async:FUNCTION` it holds: `owners`): ready ones per function, delayed ones by due time. Any node accepts
    an event (stored, then announced to the function's owner); only the owner runs it."""

    def __init__(
        self,
        store: EventStore,
        runner: Runner,
        resolve: Resolve,
        configs: Configs,
        destinations: Destinations,
        settings: DispatchSettings,
        clock: Clock = SYSTEM_CLOCK,
        owners: Owners | None = None,
        announce: Announce = _silent,
    ) -> None:
        self.store = store
        self.runner = runner
        self.resolve = resolve
        self.configs = configs
        self.destinations = destinations
        self.settings = settings
        self.clock = clock
        self.owners = owners or solo_owners("async", clock)
        self.announce = announce
        self._known: set[str] = set()  # the request IDs in memory here (ready, delayed, running)
        self._ready: dict[str, collections.deque[AsyncEvent]] = {}
        self._delayed: list[tuple[float, int, AsyncEvent]] = []
        self._running: dict[str, int] = {}
        self._limit: dict[str, int] = {}
        self._order = itertools.count()
        self._wake = asyncio.Event()

    async def restore(self) -> int:
        """Takes on every function with stored events that this node should dispatch and nobody does (at
        start, and when a node left: its in-flight events run again here); how many events it queued."""
        taken = 0
        for lease in await self.owners.claim_due(await self.store.functions()):
            function = self.owners.key_of(lease.name)
            if function is not None:
                taken += await self.load(function)
        return taken

    async def take(self, function: str) -> None:
        """Takes the function's events on if this node should dispatch them and nobody does."""
        if self.owners.held(function) is None and await self.owners.claim_due([function]):
            await self.load(function)

    async def load(self, function: str, request_ids: Sequence[str] | None = None) -> int:
        """Queues the function's stored events not in memory yet (those of `request_ids`, if given), while
        this node holds its lease; how many."""
        if self.owners.held(function) is None:
            return 0
        events = await self.store.events(function, request_ids)
        fresh = [e for e in events if e.request_id not in self._known]
        if self.owners.held(function) is None:
            return 0
        for event in fresh:
            self._queue(event)
        return len(fresh)

    def drop(self, function: str) -> None:
        """Forgets the function's waiting events (its lease was lost: they are another node's now); attempts
        under way end without writing (fenced)."""
        for event in self._ready.pop(function, ()):
            self._known.discard(event.request_id)
        kept = [entry for entry in self._delayed if entry[2].function != function]
        for _, _, event in self._delayed:
            if event.function == function:
                self._known.discard(event.request_id)
        heapq.heapify(kept)
        self._delayed = kept

    async def accept(self, events: list[AsyncEvent]) -> None:
        """Returns once the events are committed; only then may the caller hear 202. Events of a function
        another node dispatches are announced to it in the same commit."""
        elsewhere: dict[str, list[str]] = {}
        for event in events:
            if self.owners.held(event.function) is None:
                elsewhere.setdefault(event.function, []).append(event.request_id)
        await self.store.add(events, lambda conn: self._announce(conn, elsewhere))
        for event in events:
            if event.function not in elsewhere:
                self._queue(event)
        for function, request_ids in elsewhere.items():
            if self.owners.held(function) is None:
                await self.take(function)
            else:
                # Taken on here meanwhile (a start's or takeover's pass), whose read may have come before
                # this commit: the announcement reaches only other nodes, so this node loads them itself.
                await self.load(function, request_ids)

    def _announce(self, conn: Connection, elsewhere: dict[str, list[str]]) -> None:
        for function, request_ids in elsewhere.items():
            self.announce(conn, function, request_ids)

    def backlog(self) -> int:
        return sum(len(q) for q in self._ready.values()) + len(self._delayed) + sum(self._running.values())

    def _queue(self, event: AsyncEvent) -> None:
        self._known.add(event.request_id)
        if event.payload is not None and len(event.payload) > INLINE_LIMIT:
            event = replace(event, payload=None)  # on disk already: loaded again for its attempt
        if event.due <= self.clock.now():
            self._ready.setdefault(event.function, collections.deque()).append(event)
        else:
            heapq.heappush(self._delayed, (event.due, next(self._order), event))
        self._wake.set()

    def due(self, now: float) -> list[AsyncEvent]:
        """The events to start now, each marked Running: due, and within its function's free slots."""
        while self._delayed and self._delayed[0][0] <= now:
            _, _, event = heapq.heappop(self._delayed)
            self._ready.setdefault(event.function, collections.deque()).append(event)
        started: list[AsyncEvent] = []
        for function, queue in list(self._ready.items()):
            running = self._running.get(function, 0)
            free = self._limit.get(function, self.settings.per_function) - running
            taken = 0
            while queue and taken < free:
                started.append(queue.popleft().moved(EventAction.DISPATCH))
                taken += 1
            if taken:
                self._running[function] = running + taken
            if not queue:
                del self._ready[function]
        return started

    async def run(self) -> None:
        """Commits the journal and starts due events until cancelled; every attempt is a task of this group."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.store.journal.run())
            while True:
                self._wake.clear()
                for event in self.due(self.clock.now()):
                    group.create_task(self.attempt(event))
                wait = self._delayed[0][0] - self.clock.now() if self._delayed else IDLE_WAIT_S
                # Quiet move-on: waking for the next due event is not an error.
                try:
                    async with asyncio.timeout(max(wait, 0.0)):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def attempt(self, event: AsyncEvent) -> None:
        """Runs one attempt of a Running event and commits what follows; the function's slot frees at the end."""
        try:
            await self._attempt(event)
        except LeaseLost:  # another node dispatches the function's events now: this one is its to run
            self._known.discard(event.request_id)
            self.owners.lost(event.function)
            self.drop(event.function)
        except Exception:
            log.exception(
                "async event %s: the attempt failed in lambkin; it waits and runs again", event.request_id
            )
            self._requeue_throttled(event, self.clock.now(), self._policy(None))
        finally:
            left = self._running.get(event.function, 1) - 1
            if left > 0:
                self._running[event.function] = left
            else:
                self._running.pop(event.function, None)
            self._wake.set()

    async def _attempt(self, event: AsyncEvent) -> None:
        now = self.clock.now()
        policy = self._policy(await self.configs(event.function, event.qualifier))
        if event.payload is None:
            payload = await self.store.payload(event.request_id)
            if payload is None:
                self._known.discard(event.request_id)
                return  # gone already (a duplicate of an event that finished)
            event = replace(event, payload=payload)
        try:
            target = await self.resolve(event.function, event.qualifier)
        except FunctionGone:
            log.warning(
                "async event %s: function %s is gone; the event is dropped", event.request_id, event.function
            )
            event.moved(EventAction.DROP)
            await self.store.remove(event.request_id, self._lease(event))
            self._known.discard(event.request_id)
            return
        except FunctionBusy:
            self._requeue_throttled(event, now, policy)
            return
        reserved = target.version.reserved_concurrency
        self._limit[event.function] = (
            min(reserved, self.settings.per_function) if reserved else self.settings.per_function
        )
        if reserved == 0:
            await self._finish(event, Finish(ZERO_RESERVED), None, target)
            return
        if too_old(event, policy, now):
            await self._finish(event, Finish(EVENT_AGE_EXCEEDED), None, target)
            return
        request = InvokeRequest(
            payload=event.body, invoked_function_arn=event.invoked_arn, request_id=event.request_id
        )
        try:
            result = await self.runner.invoke(target.version, request)
        except Throttled:
            self._requeue_throttled(event, self.clock.now(), policy)
            return
        if isinstance(result.outcome, FunctionError) and result.outcome.error_type == SANDBOX_FAILURE:
            # lambkin could not give the event an environment: a system error, retried like a throttle.
            log.warning("async event %s: no sandbox for %s; it waits", event.request_id, event.function)
            self._requeue_throttled(event, self.clock.now(), policy)
            return
        attempt = Attempt(result.outcome, target.executed_version)
        tried = replace(event, attempts=event.attempts + 1, throttles=0)
        kind = Kind.SUCCESS if isinstance(result.outcome, Success) else Kind.FUNCTION_ERROR
        decision = decide(tried, kind, policy, self.clock.now())
        match decision:
            case Retry(due=due):
                following = tried.moved(EventAction.RETRY, due=due)
                await self.store.reschedule(following, self._lease(event))
                self._queue(following)
            case Finish():
                await self._finish(tried, decision, attempt, target)
            case Wait():
                raise AssertionError("a finished attempt never waits")
            case _:
                assert_never(decision)

    def _lease(self, event: AsyncEvent) -> Lease:
        """The lease this node dispatches the event's function under (LeaseLost once it has none)."""
        lease = self.owners.held(event.function)
        if lease is None:
            raise LeaseLost(self.owners.lease_name(event.function))
        return lease

    def _requeue_throttled(self, event: AsyncEvent, now: float, policy: RetryPolicy) -> None:
        """A throttle costs no attempt and no write: the stored row is still due, a restart re-runs it."""
        if self.owners.held(event.function) is None:  # another node's to run now
            self._known.discard(event.request_id)
            return
        waiting = replace(event, throttles=event.throttles + 1)
        decision = decide(waiting, Kind.THROTTLED, policy, now)
        # Past its maximum age (Finish), it is due at once: the next dispatch sends it down the failure path.
        due = decision.due if isinstance(decision, Wait) else now
        self._queue(waiting.moved(EventAction.THROTTLE, due=due))

    def _policy(self, config: AsyncConfig | None) -> RetryPolicy:
        scale = self.settings.scale
        retries = config.max_retries if config is not None and config.max_retries is not None else None
        age = config.max_age_s if config is not None and config.max_age_s is not None else None
        return RetryPolicy(
            max_retries=DEFAULT_MAX_RETRIES if retries is None else retries,
            max_age_s=(DEFAULT_MAX_AGE_S if age is None else age) * scale,
            scale=scale,
        )

    async def _finish(
        self, event: AsyncEvent, decision: Finish, attempt: Attempt | None, target: Target
    ) -> None:
        """Delivers the record where the function's role may, then removes the event (with a function
        destination's event, in one commit): a refused delivery settles the event all the same, as in Lambda."""
        config = await self.configs(event.function, event.qualifier)
        now = self.clock.now()
        event.moved(EventAction.SUCCEED if decision.succeeded else EventAction.FAIL)
        destination, dead_letter = route(decision, config, target.dead_letter_arn)
        role = target.version.role
        successors: list[AsyncEvent] = []
        if destination is not None and self.destinations.allowed(
            role, event.function, destination, event.request_id
        ):
            record = destination_record(event, decision.condition, attempt, now)
            if self.destinations.is_function(destination):
                successors.append(self.destinations.event_for(destination, record, now))
            else:
                await self.destinations.to_queue(destination, json.dumps(record))
        if dead_letter is not None and self.destinations.allowed(
            role, event.function, dead_letter, event.request_id
        ):
            await self.destinations.dead_letter(dead_letter, event, attempt, decision.condition)
        elsewhere: dict[str, list[str]] = {}
        for successor in successors:
            if self.owners.held(successor.function) is None:
                elsewhere.setdefault(successor.function, []).append(successor.request_id)
        await self.store.remove(
            event.request_id, self._lease(event), successors, lambda conn: self._announce(conn, elsewhere)
        )
        self._known.discard(event.request_id)
        for successor in successors:
            if successor.function not in elsewhere:
                self._queue(successor)
        for function in elsewhere:
            await self.take(function)
