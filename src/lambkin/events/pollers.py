"""The pollers' supervisor: one MappingPoller per enabled mapping whose queue this node owns (so its receives
and deletes are local, and a queue is polled by one node), started, updated and stopped under `run()`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from lambkin.events.mapping_service import MappingService
from lambkin.events.mappings import Mapping, MappingState
from lambkin.events.sqs_poller import MappingPoller, Runner
from lambkin.invoke.targets import Resolve
from lambkin.metrics.recorder import Recorder
from lambkin.queues.service import QueueService

log = logging.getLogger("lambkin.events")

_POLLING = frozenset(
    {MappingState.CREATING, MappingState.ENABLING, MappingState.ENABLED, MappingState.UPDATING}
)


def wants_pollers(mapping: Mapping) -> bool:
    return mapping.enabled and mapping.state in _POLLING


def _settings(mapping: Mapping) -> Mapping:
    """The part of a mapping its pollers read (a change of state alone restarts nothing)."""
    return replace(mapping, state=MappingState.ENABLED, reason="", last_modified=0.0)


class Pollers:
    """Reconciles running pollers with the mappings whenever the service says something changed (or this
    node took on or lost a queue: `serves(queue_name)` says whether its queue is here)."""

    def __init__(
        self, service: MappingService, make: Callable[[Mapping], MappingPoller], serves: Callable[[str], bool]
    ) -> None:
        self.service = service
        self.make = make
        self.serves = serves
        self.running: dict[str, tuple[MappingPoller, asyncio.Task[None]]] = {}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while True:
                self.service.changed.clear()
                await self.reconcile(group)
                await self.service.changed.wait()

    async def reconcile(self, group: asyncio.TaskGroup) -> None:
        for uuid, mapping in list(self.service.mappings.items()):
            have = self.running.get(uuid)
            wanted = wants_pollers(mapping) and self.serves(mapping.queue)
            if have is not None and (not wanted or have[1].done()):
                self._stop(uuid)
                have = None
            if wanted:
                if have is None:
                    poller = self.make(mapping)
                    self.running[uuid] = (poller, group.create_task(_guarded(poller)))
                elif _settings(have[0].mapping) != _settings(mapping):
                    have[0].mapping = mapping  # workers read the new settings from their next batch on
            try:
                await self.service.settle(uuid)
            except Exception:
                log.exception("event source mapping %s could not settle its state", uuid)
        for uuid in [u for u in self.running if u not in self.service.mappings]:
            self._stop(uuid)

    def _stop(self, uuid: str) -> None:
        """Asks the poller to stop; it ends by itself once its batches in hand are done (see MappingPoller)."""
        poller, _ = self.running.pop(uuid)
        poller.stop()


async def _guarded(poller: MappingPoller) -> None:
    """A poller that fails ends alone (the next change restarts it); the server and other mappings go on."""
    try:
        await poller.run()
    except Exception:
        log.exception("event source mapping %s: its pollers stopped", poller.mapping.uuid)


def build_event_sources(
    service: MappingService,
    queues: QueueService,
    runner: Runner,
    resolve: Resolve,
    region: str,
    metrics: Recorder | None = None,
) -> Pollers:
    """The supervisor whose pollers read `queues` and invoke through `runner` (the sync Invoker), counting
    their batches in `metrics`."""

    def make(mapping: Mapping) -> MappingPoller:
        return MappingPoller(mapping, queues, runner, resolve, service.disable, region, metrics=metrics)

    def serves(queue: str) -> bool:
        """Its pollers run here: this node owns the queue, or the queue is gone (the poller finds that
        out and disables the mapping, as Lambda does)."""
        return queues.owned.lease(queue) is not None or queue not in queues.registry.queues

    queues.owned.changed.append(service.changed.set)
    return Pollers(service, make, serves)
