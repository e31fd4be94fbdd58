"""The supervisor: settles each transient state and starts, updates and stops one poller per enabled mapping."""

from __future__ import annotations

import asyncio
from typing import Any

from lambkin.events.mapping_service import MappingService
from lambkin.events.mappings import Mapping, MappingState
from lambkin.events.pollers import Pollers
from tests.unit.events.fakes import Q


class FakePoller:
    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


async def test_reconcile_follows_the_mappings(service: MappingService) -> None:
    made: list[FakePoller] = []

    def make(mapping: Mapping) -> Any:
        made.append(FakePoller(mapping))
        return made[-1]

    pollers = Pollers(service, make, lambda name: True)
    async with asyncio.TaskGroup() as group:
        uuid = (await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})).uuid
        await pollers.reconcile(group)
        assert service.get(uuid).state is MappingState.ENABLED
        assert [p.mapping.uuid for p in made] == [uuid]

        await service.update(uuid, {"BatchSize": 7})
        await pollers.reconcile(group)
        assert len(made) == 1 and made[0].mapping.batch_size == 7  # updated in place, not restarted

        await service.update(uuid, {"Enabled": False})
        await pollers.reconcile(group)
        assert made[0].stopped.is_set()
        assert service.get(uuid).state is MappingState.DISABLED
        assert uuid not in pollers.running

        await service.update(uuid, {"Enabled": True})
        await pollers.reconcile(group)
        assert len(made) == 2 and service.get(uuid).state is MappingState.ENABLED

        await service.delete(uuid)
        await pollers.reconcile(group)
        assert made[1].stopped.is_set()
        assert uuid not in service.mappings
