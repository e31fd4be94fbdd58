"""Message move tasks at work: StartMessageMoveTask, CancelMessageMoveTask, ListMessageMoveTasks, and the
loop that moves each running task's messages, batch by batch, on the node that serves its source queue.

A batch leaves the source queue and enters its destinations (each message a new one: a new MessageId,
enqueued now, received never) in one transaction with the task's count, under the leases of every queue it
touches; a batch not written is put back in memory as it was. A task is resumed from its record when its
source queue is taken on (at start-up, or by another node after this one died).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from lambkin import ids
from lambkin.cluster.leases import Lease
from lambkin.queues import move_tasks
from lambkin.queues.errors import (
    InvalidParameterValue,
    QueueDoesNotExist,
    QueueElsewhere,
    QueueError,
    QueueUnavailable,
    ResourceNotFoundException,
    check_range,
)
from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.move_tasks import CANCELLED, CANCELLING, COMPLETED, FAILED, RUNNING, MoveTask
from lambkin.queues.queue import Queue
from lambkin.store import Connection, StoreError

if TYPE_CHECKING:
    from lambkin.queues.service import QueueService

log = logging.getLogger(__name__)

MAX_RATE = 500  # MaxNumberOfMessagesPerSecond's upper bound
BATCH = 100  # messages a task moves per transaction when no rate is given
MAX_LISTED = 10
RETRY_S = 1.0  # a destination served by another node: the task waits this long before it looks again


def _missing(parameter: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"The resource that you specified for the {parameter} parameter doesn't exist."
    )


def _already_running() -> InvalidParameterValue:
    return InvalidParameterValue(
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
    )


class Mover:
    """The message move tasks of the queues this node serves."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.registry = service.registry
        self.running: dict[str, MoveTask] = {}  # task id -> task, for the tasks this node moves
        self._due: dict[str, float] = {}  # task id -> when its next batch may go (its rate's pace)
        self._starting: set[str] = set()  # source queues whose task is being started
        self._wake = asyncio.Event()
        self._reload = True  # the active tasks are read again once the queues this node serves change
        service.owned.changed.append(self._queues_changed)

    def _queues_changed(self) -> None:
        self._reload = True
        self._wake.set()

    def source_name(self, arn: str, parameter: str = "SourceArn") -> str:
        """The name of the live queue an ARN names (ResourceNotFoundException if there is none)."""
        if not arn.startswith("arn:") or len(arn.split(":", 5)) != 6:
            raise InvalidParameterValue(
                f"You must use this format to specify the {parameter}: "
                "arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
            )
        name = self.registry.name_of_arn(arn)
        if name is None or name not in self.registry.queues:
            raise _missing(parameter)
        return name

    async def start(self, source_arn: str, destination_arn: str | None, rate: int | None) -> str:
        """StartMessageMoveTask, on the node serving the source queue: the new task's handle."""
        source = self.registry.get(self.source_name(source_arn))
        if rate is not None:
            check_range("MaxNumberOfMessagesPerSecond", rate, 1, MAX_RATE)
        if not self.registry.dead_letter_sources(source.name):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None:
            destination = self.registry.get(self.source_name(destination_arn, "DestinationArn"))
            if destination.fifo != source.fifo:
                raise InvalidParameterValue(
                    "The source queue and destination queue must be of the same queue type."
                )
        lease = self.service.owned.lease(source.name)
        if lease is None:
            raise QueueUnavailable(f"the queue {source.name} changed hands")
        if source.name in self._starting:
            raise _already_running()
        self._starting.add(source.name)  # two starts at once: the second waits for no read to say so
        try:
            active = await self.service.db.run(lambda conn: move_tasks.tasks_of(conn, source.name, 1))
            if any(t.status in move_tasks.ACTIVE for t in active):
                raise _already_running()
            now = self.service.clock.now()
            task = MoveTask(
                ids.uuid4(), source.name, source.arn, destination_arn, rate, RUNNING, 0,
                source.index.counts(now).visible, int(now * 1000),
            )  # fmt: skip
            await self.service.write(source, lambda conn: move_tasks.save_task(conn, task), lease)
        finally:
            self._starting.discard(source.name)
        self.running[task.task_id] = task
        self._wake.set()
        return task.handle

    async def cancel(self, task_id: str, source: str) -> int:
        """CancelMessageMoveTask: the task stops after the batch it is moving; how many it has moved."""
        lease = self.service.owned.lease(source)
        task = self.running.get(task_id) or await self.service.db.run(
            lambda conn: move_tasks.task(conn, task_id)
        )
        if task is None or task.source != source or lease is None:
            raise ResourceNotFoundException("Task does not exist.")
        if task.status != RUNNING:
            raise InvalidParameterValue("Only a task in RUNNING status can be cancelled.")
        queue = self.registry.get(source)
        await self.service.write(queue, lambda conn: move_tasks.set_status(conn, task_id, CANCELLING), lease)
        task.status = CANCELLING
        self._wake.set()
        return task.moved

    async def tasks(self, source: str, max_results: int | None) -> list[MoveTask]:
        """ListMessageMoveTasks: the source queue's most recent tasks (1 unless asked for up to 10)."""
        if max_results is not None:
            check_range("MaxResults", max_results, 1, MAX_LISTED)
        return await self.service.db.run(lambda conn: move_tasks.tasks_of(conn, source, max_results or 1))

    async def run(self) -> None:
        """Moves the running tasks' messages until cancelled; idle (no database reads) while none runs."""
        while True:
            self._wake.clear()
            try:
                if self._reload:
                    self._reload = False
                    await self._resume()
                for task in list(self.running.values()):
                    due = self._due.get(task.task_id, 0.0) <= self.service.clock.now()
                    if due or task.status == CANCELLING:  # a cancel is not paced
                        await self._step(task)
            except (StoreError, QueueUnavailable) as exc:  # the next pass tries again, in a while
                log.warning("message move tasks: %s", exc)
                await self.service.clock.sleep(RETRY_S)
            if not self.running:
                await self._wake.wait()
                continue
            now = self.service.clock.now()
            await self._pause(min(self._due.get(t, now) for t in self.running) - now)

    async def _pause(self, seconds: float) -> None:
        """Until `seconds` pass on the clock (the next batch is due) or something wakes the loop."""
        if seconds <= 0:
            await asyncio.sleep(0)  # the other loops' turn between batches
            return
        sleeping = asyncio.ensure_future(self.service.clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()

    async def _resume(self) -> None:
        """Takes up the active tasks whose source queue this node serves; forgets those it no longer does."""
        active = await self.service.db.run(move_tasks.active_tasks)
        served = {t.task_id: t for t in active if self.service.owned.lease(t.source) is not None}
        for task_id in list(self.running):
            if task_id not in served:
                del self.running[task_id]
                self._due.pop(task_id, None)
        for task_id, task in served.items():
            self.running.setdefault(task_id, task)

    async def _finish(
        self, task: MoveTask, source: Queue, lease: Lease, status: str, failure: str | None = None
    ) -> None:
        await self.service.write(
            source, lambda conn: move_tasks.set_status(conn, task.task_id, status, failure), lease
        )
        task.status, task.failure = status, failure
        self.running.pop(task.task_id, None)
        self._due.pop(task.task_id, None)

    async def _step(self, task: MoveTask) -> None:
        """Moves the task's next batch (or ends it: cancelled, everything moved, or a destination gone)."""
        lease = self.service.owned.lease(task.source)
        source = self.registry.queues.get(task.source)
        if lease is None or source is None:  # no longer served here: whoever serves it resumes the task
            self.running.pop(task.task_id, None)
            return
        if task.status == CANCELLING:
            await self._finish(task, source, lease, CANCELLED)
            return
        now = self.service.clock.now()
        want = min(task.rate or BATCH, task.to_move - task.moved)
        picked = list(itertools.islice(source.index.visible(now), max(want, 0)))
        if not picked:
            await self._finish(task, source, lease, COMPLETED)
            return
        if task.destination_arn is not None:
            targets = {m.message_id: task.destination_arn for m in picked}
        else:
            found = await self.service.db.run(
                lambda conn: move_tasks.dead_letter_sources(conn, [m.message_id for m in picked])
            )
            targets = {m.message_id: found.get(m.message_id) or "" for m in picked}
        destinations: dict[str, tuple[Queue, Lease]] = {}
        for arn in set(targets.values()):
            name = self.registry.name_of_arn(arn)
            try:
                if name is None or name not in self.registry.queues:
                    raise QueueDoesNotExist()
                destinations[arn] = await self.service.owned.here(name)
            except (QueueElsewhere, QueueUnavailable):  # served elsewhere, for now: try again in a while
                self._due[task.task_id] = self.service.clock.now() + RETRY_S
                return
            except QueueError:  # a destination is gone: AWS fails the task, naming the error
                await self._finish(task, source, lease, FAILED, "AWS.SimpleQueueService.NonExistentQueue")
                return
        if task.status != RUNNING or self.service.owned.lease(task.source) != lease:
            return  # cancelled or lost while the destinations were looked up: the next pass sees it
        await self._move(task, source, lease, picked, targets, destinations)

    async def _move(
        self,
        task: MoveTask,
        source: Queue,
        lease: Lease,
        picked: list[MessageMeta],
        targets: dict[str, str],
        destinations: dict[str, tuple[Queue, Lease]],
    ) -> None:
        now = self.service.clock.now()
        moves: list[tuple[MessageMeta, MessageMeta]] = []
        for meta in picked:
            if source.index.messages.get(meta.message_id) is not meta or meta.visible_at > now:
                continue  # received or deleted while the batch was prepared
            target, _ = destinations[targets[meta.message_id]]
            new = replace(
                meta, message_id=ids.uuid4(), queue=target.name, seq=target.take_seq(), sent_at=now,
                visible_at=now, receive_count=0, first_receive_at=None, receipt="",
            )  # fmt: skip
            source.index.remove(meta.message_id)
            target.index.put(new)
            moves.append((meta, new))
        if not moves:
            return
        moved = task.moved + len(moves)
        pairs = [(old.message_id, new) for old, new in moves]
        next_seqs = {queue.name: queue.next_seq for queue, _ in destinations.values()}
        leases = {lease, *(held for _, held in destinations.values())}

        def write(conn: Connection) -> None:
            move_tasks.move_batch(conn, task.task_id, moved, pairs, next_seqs)

        try:
            await self.service.write(source, write, *leases)
        except BaseException:  # not moved: every message is back where the database has it
            for _, new in moves:
                self.registry.queues[new.queue].index.remove(new.message_id)
            source.index.restore([old for old, _ in moves])
            raise
        task.moved = moved
        for queue, _ in destinations.values():
            queue.notify()
        if task.rate is not None and task.moved < task.to_move:  # the last batch: it completes at once
            self._due[task.task_id] = self.service.clock.now() + len(moves) / task.rate
