"""MappingService with fake function and queue lookups, a manual clock, and the real store on a temp file."""

from __future__ import annotations

import pytest

from lambkin.events.errors import InvalidParameterValue, MappingConflict, MappingInUse, MappingNotFound
from lambkin.events.mapping_service import FunctionInfo, MappingService
from lambkin.events.mapping_store import MappingStore
from lambkin.events.mappings import MappingState
from lambkin.store import Store
from tests.unit.events.fakes import FN, Functions, Q, find_queue


async def test_create_starts_creating_and_settles_enabled(service: MappingService) -> None:
    made = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    assert (made.state, made.batch_size, made.window_s, made.last_modified) == (
        MappingState.CREATING,
        10,
        0,
        100,
    )
    assert service.changed.is_set()
    settled = await service.settle(made.uuid)
    assert settled is not None and settled.state is MappingState.ENABLED
    disabled = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f:live", "Enabled": False})
    assert (await service.settle(disabled.uuid)).state is MappingState.DISABLED  # type: ignore[union-attr]


async def test_duplicates_conflict_and_checks_apply(service: MappingService) -> None:
    made = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    with pytest.raises(MappingConflict, match=made.uuid):
        await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    with pytest.raises(InvalidParameterValue, match="Function timeout: 60 seconds"):
        await service.create({"EventSourceArn": Q + "q", "FunctionName": "g"})
    with pytest.raises(InvalidParameterValue, match="NonExistentQueue"):
        await service.create({"EventSourceArn": Q + "nope", "FunctionName": "f"})
    with pytest.raises(InvalidParameterValue, match="Unrecognized event source"):
        await service.create({"EventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s", "FunctionName": "f"})
    with pytest.raises(InvalidParameterValue, match="FIFO"):
        await service.create({"EventSourceArn": Q + "f.fifo", "FunctionName": "f", "BatchSize": 20,
                              "MaximumBatchingWindowInSeconds": 1})  # fmt: skip
    with pytest.raises(LookupError):
        await service.create({"EventSourceArn": Q + "q", "FunctionName": "missing"})


async def test_updates_walk_the_state_table(service: MappingService) -> None:
    uuid = (await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})).uuid
    with pytest.raises(MappingInUse, match="Creating"):
        await service.update(uuid, {"BatchSize": 5})
    await service.settle(uuid)
    assert (await service.update(uuid, {"Enabled": False})).state is MappingState.DISABLING
    assert (await service.settle(uuid)).state is MappingState.DISABLED  # type: ignore[union-attr]
    updated = await service.update(uuid, {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 5,
                                          "FunctionResponseTypes": ["ReportBatchItemFailures"],
                                          "ScalingConfig": {"MaximumConcurrency": 4}})  # fmt: skip
    assert updated.state is MappingState.UPDATING
    assert (updated.batch_size, updated.window_s, updated.report_failures, updated.max_concurrency) == (
        50, 5, True, 4
    )  # fmt: skip
    assert (await service.settle(uuid)).state is MappingState.DISABLED  # type: ignore[union-attr]
    assert (await service.update(uuid, {"Enabled": True})).state is MappingState.ENABLING
    assert (await service.settle(uuid)).state is MappingState.ENABLED  # type: ignore[union-attr]
    with pytest.raises(InvalidParameterValue, match="Function timeout"):
        await service.update(uuid, {"FunctionName": "g"})


async def test_delete_then_settle_removes_it_from_memory_and_disk(service: MappingService, db: Store) -> None:
    uuid = (await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})).uuid
    assert (await service.delete(uuid)).state is MappingState.DELETING
    assert (await service.delete(uuid)).state is MappingState.DELETING
    assert await service.settle(uuid) is None
    with pytest.raises(MappingNotFound):
        service.get(uuid)
    assert MappingStore(db).load() == []


async def test_mappings_are_reloaded_from_disk(service: MappingService, db: Store) -> None:
    made = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f", "BatchSize": 3})
    again = MappingService(MappingStore(db), Functions(), find_queue, "arn:esm:")
    again.load()
    assert again.get(made.uuid) == made


async def test_a_mapping_made_elsewhere_is_found_before_its_news(service: MappingService, db: Store) -> None:
    other_node = MappingService(MappingStore(db), Functions(), find_queue, "arn:esm:")
    made = await other_node.create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    with pytest.raises(MappingNotFound):
        service.get(made.uuid)
    assert await service.find(made.uuid) == made
    with pytest.raises(MappingNotFound):
        await service.find("00000000-0000-0000-0000-000000000000")
    assert (await service.delete(made.uuid)).state is MappingState.DELETING


async def test_list_filters_and_pages(service: MappingService) -> None:
    made = [await service.create({"EventSourceArn": Q + "q", "FunctionName": f"f:{i}"}) for i in range(5)]
    page, marker = service.list(None, Q + "q", None, 2)
    assert len(page) == 2 and marker == page[-1].uuid
    seen = list(page)
    while marker is not None:
        page, marker = service.list(None, None, marker, 2)
        seen += page
    assert sorted(m.uuid for m in seen) == sorted(m.uuid for m in made)
    only = FunctionInfo("f", "3", FN + "f:3", 3)
    assert [m.function_arn for m in service.list(only, None, None, None)[0]] == [FN + "f:3"]
    assert len(service.list(FunctionInfo("f", None, FN + "f", 3), None, None, None)[0]) == 5
    assert service.list(None, Q + "other", None, None)[0] == []


async def test_a_problem_disables_an_enabled_mapping(service: MappingService) -> None:
    uuid = (await service.create({"EventSourceArn": Q + "q", "FunctionName": "f"})).uuid
    await service.settle(uuid)
    await service.disable(uuid, "PROBLEM: Function not found.")
    got = service.get(uuid)
    assert (got.state, got.enabled, got.reason) == (
        MappingState.DISABLED,
        False,
        "PROBLEM: Function not found.",
    )


async def test_an_update_may_not_duplicate_another_mapping(service: MappingService) -> None:
    first = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f:1"})
    second = await service.create({"EventSourceArn": Q + "q", "FunctionName": "f:2"})
    await service.settle(second.uuid)
    with pytest.raises(MappingConflict, match=first.uuid):
        await service.update(second.uuid, {"FunctionName": "f:1"})
    moved = await service.update(second.uuid, {"FunctionName": "f:3"})
    assert (moved.function, moved.qualifier, moved.function_arn) == ("f", "3", FN + "f:3")
