"""One mapping's pollers: receive a batch, invoke the function once, delete what succeeded; scaled by `scaling`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.environments.results import Success
from lambkin.events import scaling
from lambkin.events.mappings import FUNCTION_GONE, QUEUE_GONE, Mapping
from lambkin.events.sqs_records import MAX_PAYLOAD, failed_items, split_by_payload
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.targets import FunctionBusy, FunctionGone, Resolve
from lambkin.metrics.recorder import BatchResult, Recorder
from lambkin.queues.errors import QueueDoesNotExist, QueueElsewhere, QueueUnavailable
from lambkin.queues.receiving import ReceivedMessage
from lambkin.queues.service import QueueService

log = logging.getLogger("lambkin.events.sqs")

LONG_POLL_S = 20
TICK_S = 1.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 20.0
ERROR_PAUSE_S = 1.0


class Runner(Protocol):
    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult: ...


Problem = Callable[[str, str], Awaitable[None]]


class MappingPoller:
    """`run()` owns a controller that re-decides the scale every TICK_S and the worker loops it asks for.

    `stop()` ends it gently: a worker waiting in a receive is cancelled (nothing taken yet), a worker with a
    batch in hand finishes it (invoke, then delete), so a disabled mapping never abandons a running invoke.
    """

    def __init__(
        self,
        mapping: Mapping,
        queues: QueueService,
        runner: Runner,
        resolve: Resolve,
        problem: Problem,
        region: str,
        clock: Clock = SYSTEM_CLOCK,
        metrics: Recorder | None = None,
    ) -> None:
        self.metrics = metrics
        self.mapping = mapping
        self.queues = queues
        self.runner = runner
        self.resolve = resolve
        self.problem = problem
        self.region = region
        self.clock = clock
        self.reserved: int | None = None
        self.in_flight = 0
        self.throttles = 0
        self.errors = 0
        self.scale = scaling.initial(clock.monotonic(), self.limit())
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._receiving: set[asyncio.Task[None]] = set()
        self._stopped = False

    def limit(self) -> int:
        return scaling.cap(self.mapping.max_concurrency, self.reserved)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopped:
                for index in range(self.scale.pollers):
                    worker = self._workers.get(index)
                    if worker is None or worker.done():
                        self._workers[index] = group.create_task(self._work(index))
                await self.clock.sleep(TICK_S)
                self.scale = scaling.decide(self.scale, self.clock.monotonic(), self._observe(), self.limit())

    def _observe(self) -> scaling.Observation:
        queue = self.queues.registry.queues.get(self.mapping.queue)
        backlog = 0 if queue is None else queue.index.counts(self.queues.clock.now()).visible
        seen = scaling.Observation(backlog, self.in_flight, self.throttles, self.errors)
        self.throttles = self.errors = 0
        return seen

    async def _work(self, index: int) -> None:
        while not self._stopped and index < self.scale.pollers:
            try:
                await self.poll_once()
            except QueueDoesNotExist:
                await self.problem(self.mapping.uuid, QUEUE_GONE)
                self._stopped = True
            except FunctionGone:
                await self.problem(self.mapping.uuid, FUNCTION_GONE)
                self._stopped = True
            except (QueueElsewhere, QueueUnavailable):  # the queue changed hands: its new owner polls it
                await self.clock.sleep(ERROR_PAUSE_S)
            except Exception:
                log.exception("event source mapping %s: a poll failed; polling again", self.mapping.uuid)
                await self.clock.sleep(ERROR_PAUSE_S)

    async def poll_once(self) -> int:
        """Receives one batch and carries it to its end; the number of messages it handled."""
        mapping = self.mapping
        me = asyncio.current_task()
        if me is not None:
            self._receiving.add(me)
        try:
            messages, hidden_until = await self._gather(mapping)
        finally:
            self._receiving.discard(me)
        if not messages:
            return 0
        batch, payload, overflow = split_by_payload(messages, mapping.event_source_arn, self.region)
        if overflow:
            await self.queues.change_visibility_batch(
                mapping.queue, [(m.receipt_handle, 0) for m in overflow]
            )
        result = await self._invoke(mapping, payload, hidden_until)
        if result is None:  # throttled until the messages' visibility ran out: they come back on their own
            self._count(BatchResult.THROTTLED)
            return len(batch)
        keep = self._failed(mapping, batch, result)
        if keep is None:
            self.errors += 1
        self._count(
            BatchResult.FAILURE if keep is None else BatchResult.PARTIAL if keep else BatchResult.SUCCESS
        )
        done = [m.receipt_handle for m in batch if keep is not None and m.message_id not in keep]
        if done:
            await self.queues.delete_batch(mapping.queue, done)
        return len(batch)

    async def _gather(self, mapping: Mapping) -> tuple[list[ReceivedMessage], float]:
        """Up to BatchSize messages: waits for the first, then gathers until the batching window ends."""
        queue = await self.queues.here(mapping.queue)
        visibility = queue.config.visibility_timeout
        if mapping.window_s:
            timeout = await self._function_timeout()
            if mapping.window_s + timeout > visibility:
                visibility = mapping.window_s + timeout + 30
        started = self.clock.monotonic()
        messages = await self._receive(mapping, mapping.batch_size, LONG_POLL_S, visibility)
        if messages and mapping.window_s:
            deadline = self.clock.monotonic() + mapping.window_s
            size = sum(len(m.body) for m in messages)
            while len(messages) < mapping.batch_size and size < MAX_PAYLOAD:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_S, math.ceil(remaining))
                more = await self._receive(mapping, mapping.batch_size - len(messages), wait, visibility)
                messages += more
                size += sum(len(m.body) for m in more)
        return messages, started + visibility

    async def _receive(
        self, mapping: Mapping, count: int, wait: int, visibility: int
    ) -> list[ReceivedMessage]:
        return await self.queues.receive(
            mapping.queue,
            max_messages=count,
            wait_seconds=wait,
            visibility_timeout=visibility,
            attribute_names=("All",),
            message_attribute_names=("All",),
        )

    async def _function_timeout(self) -> int:
        target = await self.resolve(self.mapping.function, self.mapping.qualifier)
        return int(target.version.timeout)

    async def _invoke(self, mapping: Mapping, payload: bytes, hidden_until: float) -> InvokeResult | None:
        """One synchronous invoke; throttles are retried with backoff while the batch stays hidden."""
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                target = await self.resolve(mapping.function, mapping.qualifier)
                self.reserved = target.version.reserved_concurrency
                self.in_flight += 1
                try:
                    return await self.runner.invoke(
                        target.version,
                        InvokeRequest(payload=payload, invoked_function_arn=mapping.function_arn),
                    )
                finally:
                    self.in_flight -= 1
            except (Throttled, FunctionBusy):
                self.throttles += 1
            if self.clock.monotonic() + backoff >= hidden_until - 1:
                return None
            await self.clock.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _count(self, result: BatchResult) -> None:
        if self.metrics is not None:
            function = self.mapping.function_arn.split(":")[6]  # the name, as the function's own series
            self.metrics.batch(self.mapping.uuid, function, result)

    def _failed(
        self, mapping: Mapping, batch: list[ReceivedMessage], result: InvokeResult
    ) -> set[str] | None:
        """The ids to leave in the queue (None: all of them)."""
        if not isinstance(result.outcome, Success):
            return None
        if not mapping.report_failures:
            return set()
        return failed_items(result.outcome.payload, [m.message_id for m in batch], mapping.fifo)

    def stop(self) -> None:
        self._stopped = True
        for task in list(self._receiving):
            task.cancel()
