"""Builds the async invoke path: event store, destinations, dispatcher, and who dispatches what."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lambkin.cluster.bus import Bus
from lambkin.cluster.owners import Owners
from lambkin.invoke.async_destinations import Destinations, Forward, Refused
from lambkin.invoke.async_dispatcher import Configs, Dispatcher, DispatchSettings, Runner
from lambkin.invoke.async_owners import AsyncOwnership, announcer
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.targets import Resolve
from lambkin.queues.service import QueueService
from lambkin.store import Store


@dataclass(frozen=True)
class AsyncPath:
    dispatcher: Dispatcher
    ownership: AsyncOwnership

    async def run(self) -> None:
        """The dispatcher and the takeover loop (which queues the stored events at start), until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.dispatcher.run())
            group.create_task(self.ownership.run())


def build_dispatcher(
    events: Store,
    runner: Runner,
    resolve: Resolve,
    configs: Configs,
    queues: QueueService | None,
    settings: DispatchSettings,
    owners: Owners,
    bus: Bus,
    refused: Refused | None = None,
    forward: Forward | None = None,
) -> AsyncPath:
    """The dispatcher on the store `events` (on SQLite a file of its own: accepts never queue behind
    control-plane writes) for the functions whose lease (`owners`, kind "async") this node holds, with the
    stored events queued again once `run()` starts; with `refused`, records go only where the function's
    role may; with `forward`, records for a queue another node owns are sent through that node."""
    store = open_event_store(events, owners.leases.fence)
    destinations = Destinations(queues, refused, forward)
    dispatcher = Dispatcher(
        store, runner, resolve, configs, destinations, settings, owners=owners, announce=announcer(bus)
    )
    return AsyncPath(dispatcher, AsyncOwnership(dispatcher, bus))
