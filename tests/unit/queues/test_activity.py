"""A queue's requests are counted as AWS/SQS counts them: messages sent with their sizes, received, deleted
(repeats too), receives that found nothing; taking the counts starts them again from zero."""

from __future__ import annotations

from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService

SENDER = "AKIDTEST"


async def test_sends_receives_and_deletes_are_counted_per_queue(service: QueueService) -> None:
    await service.registry.create("q", {}, {})
    await service.registry.create("other", {}, {})
    await service.send("q", SendRequest("a"), SENDER)
    await service.send_batch("q", [SendRequest("bbb"), SendRequest("cc")], SENDER)
    assert await service.receive("other", wait_seconds=0) == []
    received = await service.receive("q", max_messages=10, wait_seconds=0)
    assert await service.receive("q", wait_seconds=0) == []
    handles = [m.receipt_handle for m in received]
    await service.delete_batch("q", handles[:2])
    await service.delete("q", handles[0])  # deleted already: SQS answers success and counts it

    taken = service.activity.take()

    q = taken["q"]
    assert (q.sent, q.received, q.deleted, q.empty_receives) == (3, 3, 3, 1)
    assert (q.sent_bytes, q.smallest, q.largest) == (6, 1, 3)
    assert (taken["other"].received, taken["other"].empty_receives) == (0, 1)
    assert service.activity.take() == {}


async def test_a_fifo_duplicate_is_not_counted_as_sent(service: QueueService) -> None:
    await service.registry.create("q.fifo", {"FifoQueue": "true"}, {})
    for _ in range(2):
        await service.send("q.fifo", SendRequest("x", group_id="g", deduplication_id="same"), SENDER)

    assert service.activity.take()["q.fifo"].sent == 1


async def test_a_deleted_queue_s_counts_are_dropped(service: QueueService) -> None:
    await service.registry.create("gone", {}, {})
    await service.send("gone", SendRequest("x"), SENDER)
    await service.delete_queue("gone")

    assert "gone" not in service.activity.take()
