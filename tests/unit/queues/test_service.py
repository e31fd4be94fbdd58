"""QueueService with a manual clock: visibility, delays, retention, redrive, FIFO, receipts, restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lambkin.queues.errors import (
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from lambkin.queues.receipts import Receipt
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import EntryFailure, QueueService
from lambkin.testing.clock import ManualClock
from tests.unit.queues.conftest import running

SENDER = "AKIDTEST"


async def send(service: QueueService, queue: str, body: str, **kwargs: object) -> str:
    result = await service.send(queue, SendRequest(body, **kwargs), SENDER)  # type: ignore[arg-type]
    return result.message_id


async def bodies(service: QueueService, queue: str, n: int = 10, **kwargs: object) -> list[str]:
    return [m.body for m in await service.receive(queue, max_messages=n, **kwargs)]  # type: ignore[arg-type]


async def test_visibility_timeout_hides_then_returns(service: QueueService, clock: ManualClock) -> None:
    await service.registry.create("q", {"VisibilityTimeout": "30"}, {})
    await send(service, "q", "a")
    [message] = await service.receive("q")
    assert message.attributes == {}
    assert await bodies(service, "q") == []
    clock.advance(29)
    assert await bodies(service, "q") == []
    clock.advance(1)
    [again] = await service.receive("q", attribute_names=("ApproximateReceiveCount",))
    assert again.attributes == {"ApproximateReceiveCount": "2"}
    assert again.receipt_handle != message.receipt_handle


async def test_delay_queue_and_per_message_delay(service: QueueService, clock: ManualClock) -> None:
    await service.registry.create("q", {"DelaySeconds": "10"}, {})
    await send(service, "q", "queue-delay")
    await send(service, "q", "no-delay", delay_seconds=0)
    assert await bodies(service, "q") == ["no-delay"]
    attrs = service.registry.attributes("q", ["ApproximateNumberOfMessagesDelayed"])
    assert attrs == {"ApproximateNumberOfMessagesDelayed": "1"}
    clock.advance(10)
    assert await bodies(service, "q") == ["queue-delay"]


async def test_retention_drops_old_messages(service: QueueService, clock: ManualClock) -> None:
    await service.registry.create("q", {"MessageRetentionPeriod": "60"}, {})
    await send(service, "q", "old")
    clock.advance(60)
    assert await bodies(service, "q") == []
    await send(service, "q", "new")
    clock.advance(61)
    await service.sweep()
    assert (
        service.registry.attributes("q", ["ApproximateNumberOfMessages"])["ApproximateNumberOfMessages"]
        == "0"
    )


async def test_redrive_moves_on_the_receive_that_exceeds_max(
    service: QueueService, clock: ManualClock
) -> None:
    dlq = await service.registry.create("dlq", {}, {})
    policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 2})
    await service.registry.create("src", {"RedrivePolicy": policy, "VisibilityTimeout": "5"}, {})
    message_id = await send(service, "src", "poison")
    for _ in range(2):
        assert await bodies(service, "src") == ["poison"]
        clock.advance(5)
    assert await bodies(service, "src") == []
    [moved] = await service.receive("dlq", attribute_names=("All",))
    assert moved.message_id == message_id
    assert moved.attributes["DeadLetterQueueSourceArn"].endswith(":src")
    assert moved.attributes["ApproximateReceiveCount"] == "3"  # its count goes on in the dead-letter queue
    assert service.registry.dead_letter_sources("dlq") == ["src"]


async def test_redrive_checks_target_and_allow_policy(service: QueueService) -> None:
    missing = json.dumps({"deadLetterTargetArn": service.registry.arn("nope"), "maxReceiveCount": 2})
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        await service.registry.create("src", {"RedrivePolicy": missing}, {})
    dlq = await service.registry.create("dlq", {"RedriveAllowPolicy": '{"redrivePermission":"denyAll"}'}, {})
    policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 2})
    with pytest.raises(InvalidParameterValue, match="does not allow"):
        await service.registry.create("src", {"RedrivePolicy": policy}, {})


async def test_fifo_order_group_lock_and_dedup(service: QueueService, clock: ManualClock) -> None:
    await service.registry.create("q.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"}, {})
    with pytest.raises(MissingParameter):
        await send(service, "q.fifo", "x")
    first = await service.send("q.fifo", SendRequest("a1", group_id="a"), SENDER)
    duplicate = await service.send("q.fifo", SendRequest("a1", group_id="a"), SENDER)
    assert duplicate.message_id == first.message_id
    assert duplicate.sequence_number == first.sequence_number
    await send(service, "q.fifo", "a2", group_id="a")
    await send(service, "q.fifo", "b1", group_id="b")
    taken = await service.receive("q.fifo", max_messages=1)
    assert [m.body for m in taken] == ["a1"]
    assert await bodies(service, "q.fifo") == ["b1"]  # group a is locked while a1 is in flight
    await service.delete("q.fifo", taken[0].receipt_handle)
    assert await bodies(service, "q.fifo") == ["a2"]
    clock.advance(301)
    again = await service.send("q.fifo", SendRequest("a1", group_id="a"), SENDER)
    assert again.message_id != first.message_id
    assert int(again.sequence_number or 0) > int(first.sequence_number or 0)


async def test_fifo_rejects_per_message_delay_and_needs_dedup(service: QueueService) -> None:
    await service.registry.create("q.fifo", {"FifoQueue": "true"}, {})
    with pytest.raises(InvalidParameterValue, match="ContentBasedDeduplication"):
        await send(service, "q.fifo", "x", group_id="g")
    with pytest.raises(InvalidParameterValue):
        await send(service, "q.fifo", "x", group_id="g", deduplication_id="d", delay_seconds=5)


async def test_receipts_delete_and_visibility(service: QueueService, clock: ManualClock) -> None:
    await service.registry.create("q", {"VisibilityTimeout": "10"}, {})
    await send(service, "q", "a")
    [first] = await service.receive("q")
    with pytest.raises(ReceiptHandleIsInvalid):
        await service.delete("q", "garbage")
    await service.change_visibility("q", first.receipt_handle, 0)
    await service.change_visibility("q", first.receipt_handle, 5)  # its timeout over: hidden again
    assert await service.receive("q") == []
    clock.advance(5)
    [second] = await service.receive("q")
    await service.change_visibility("q", first.receipt_handle, 10)  # an older delivery's handle: taken too
    await service.delete("q", first.receipt_handle)  # an older delivery's handle: success, message kept
    assert service.registry.attributes("q", ["All"])["ApproximateNumberOfMessagesNotVisible"] == "1"
    await service.delete("q", second.receipt_handle)
    assert service.registry.attributes("q", ["All"])["ApproximateNumberOfMessagesNotVisible"] == "0"
    await service.delete("q", second.receipt_handle)  # already gone: success
    with pytest.raises(InvalidParameterValue):
        await service.change_visibility("q", second.receipt_handle, 5)


async def test_batches_report_each_entry(service: QueueService) -> None:
    await service.registry.create("q", {}, {})
    results = await service.send_batch("q", [SendRequest("ok"), SendRequest("bad\x00")], SENDER)
    assert not isinstance(results[0], EntryFailure)
    assert isinstance(results[1], EntryFailure) and results[1].error.code == "InvalidMessageContents"
    [message] = await service.receive("q")
    outcome = await service.delete_batch("q", [message.receipt_handle, "garbage"])
    assert outcome[0] is None
    assert isinstance(outcome[1], EntryFailure) and outcome[1].error.code == "ReceiptHandleIsInvalid"


async def test_queue_management(service: QueueService, clock: ManualClock) -> None:
    registry = service.registry
    await registry.create("q", {"VisibilityTimeout": "60"}, {"team": "a"})
    assert (await registry.create("q", {"VisibilityTimeout": "60"}, {})).name == "q"
    with pytest.raises(QueueNameExists):
        await registry.create("q", {"VisibilityTimeout": "61"}, {})
    for name in ["q2", "other"]:
        await registry.create(name, {}, {})
    assert registry.names(await service.queue_names(), "q", None, None) == (["q", "q2"], None)
    page, token = registry.names(await service.queue_names(), None, 2, None)
    assert page == ["other", "q"] and token is not None
    assert registry.names(await service.queue_names(), None, 2, token) == (["q2"], None)
    await registry.tag("q", {"env": "dev"})
    await registry.untag("q", ["team"])
    assert registry.get("q").tags == {"env": "dev"}
    await send(service, "q", "a")
    await registry.purge("q")
    with pytest.raises(PurgeQueueInProgress):
        await registry.purge("q")
    clock.advance(60)
    await registry.purge("q")
    await registry.delete("q")
    with pytest.raises(QueueDoesNotExist):
        registry.get("q")
    with pytest.raises(QueueDeletedRecently):
        await registry.create("q", {}, {})
    clock.advance(60)
    await registry.create("q", {}, {})


async def test_long_poll_returns_when_a_message_arrives(service: QueueService) -> None:
    await service.registry.create("q", {}, {})
    async with asyncio.TaskGroup() as group:
        waiting = group.create_task(service.receive("q", wait_seconds=20))
        await asyncio.sleep(0)
        assert not waiting.done()
        await send(service, "q", "wake")
    assert [m.body for m in waiting.result()] == ["wake"]


async def test_everything_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "queues.db"
    async with running(path, clock) as first:
        await first.registry.create("q.fifo", {"FifoQueue": "true", "VisibilityTimeout": "30"}, {"k": "v"})
        for i in range(3):
            await first.send("q.fifo", SendRequest(f"m{i}", group_id="g", deduplication_id=f"d{i}"), SENDER)
        [held] = await first.receive("q.fifo", max_messages=1)
    async with running(path, clock) as second:
        assert second.registry.get("q.fifo").tags == {"k": "v"}
        assert await bodies(second, "q.fifo") == []  # m0 still in flight, group locked
        duplicate = await second.send(
            "q.fifo", SendRequest("m1", group_id="g", deduplication_id="d1"), SENDER
        )
        assert duplicate.sequence_number is not None
        await second.delete("q.fifo", held.receipt_handle)
        assert await bodies(second, "q.fifo") == ["m1", "m2"]


async def test_concurrent_receivers_never_share_a_message(service: QueueService) -> None:
    await service.registry.create("q", {}, {})
    for start in range(0, 200, 10):
        await service.send_batch("q", [SendRequest(f"m{i}") for i in range(start, start + 10)], SENDER)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(service.receive("q", max_messages=7)) for _ in range(40)]
    taken = [m.body for task in tasks for m in task.result()]
    assert len(taken) == len(set(taken)) == 200


async def test_fifo_receive_attempt_id_repeats_the_same_delivery(
    service: QueueService, clock: ManualClock
) -> None:
    await service.registry.create("q.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"}, {})
    for body in ("a", "b"):
        await send(service, "q.fifo", body, group_id="g")
    first = await service.receive("q.fifo", max_messages=10, attempt_id="try-1")
    again = await service.receive("q.fifo", max_messages=10, attempt_id="try-1")
    assert [m.receipt_handle for m in again] == [m.receipt_handle for m in first]
    assert [m.body for m in again] == ["a", "b"]
    await service.delete("q.fifo", first[0].receipt_handle)
    assert await service.receive("q.fifo", attempt_id="try-1") == []  # changed since: a fresh receive


async def test_fifo_receipts_of_ended_deliveries_are_refused(service: QueueService) -> None:
    await service.registry.create("q.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"}, {})
    await send(service, "q.fifo", "a", group_id="g")
    [first] = await service.receive("q.fifo", visibility_timeout=0)
    with pytest.raises(MessageNotInflight):
        await service.change_visibility("q.fifo", first.receipt_handle, 5)
    with pytest.raises(InvalidParameterValue, match="The receipt handle has expired"):
        await service.delete("q.fifo", first.receipt_handle)
    [second] = await service.receive("q.fifo")
    with pytest.raises(InvalidParameterValue, match="The receipt handle has expired"):
        await service.delete("q.fifo", first.receipt_handle)
    await service.delete("q.fifo", second.receipt_handle)


async def test_a_handle_of_a_message_never_delivered_is_refused(service: QueueService) -> None:
    await service.registry.create("q", {}, {})
    message_id = await send(service, "q", "a")
    forged = Receipt("q", message_id, "made-up").encode()
    with pytest.raises(InvalidParameterValue):
        await service.change_visibility("q", forged, 5)
