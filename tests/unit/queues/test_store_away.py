"""The queue engine while its database is away: each write it could not store fails alone and changes nothing
(memory stays as the database has it), and the engine goes on by itself once the database is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from lambkin.queues import service as service_module
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.store import Connection, StoreUnavailable
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests.unit.queues.conftest import running

T = TypeVar("T")
SENDER = "AKIDTEST"


class AwayStore(SqliteStore):
    """An SQLite store whose units of work fail as PostgreSQL's do while it is down (`away`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.away = False
        self.refused = 0
        self.refused_thrice = asyncio.Event()

    async def run(self, fn: Callable[[Connection], T]) -> T:
        if self.away:
            self.refused += 1
            if self.refused >= 3:
                self.refused_thrice.set()
            raise StoreUnavailable("the connection to it was lost")
        return await super().run(fn)


@contextlib.asynccontextmanager
async def running_on(store: AwayStore, clock: ManualClock) -> AsyncIterator[QueueService]:
    service = open_queue_service(store, "us-east-1", "123456789012", clock)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()


async def test_a_sweep_that_cannot_write_leaves_the_engine_running(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "SWEEP_INTERVAL", 0.01)
    store = AwayStore(tmp_path / "queues.db")
    async with running_on(store, clock) as service:
        await service.registry.create("q", {}, {})
        store.away = True
        # Three sweeps refused in a row: the loop outlived each (the timeout guards against a loop that died).
        async with asyncio.timeout(30):
            await store.refused_thrice.wait()
        store.away = False
        await service.send("q", SendRequest("after"), SENDER)
        assert [m.body for m in await service.receive("q")] == ["after"]


async def test_a_delete_that_was_not_stored_keeps_the_message_for_the_same_receipt(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = AwayStore(tmp_path / "queues.db")
    async with running_on(store, clock) as service:
        await service.registry.create("q", {"VisibilityTimeout": "30"}, {})
        await service.send("q", SendRequest("a"), SENDER)
        [message] = await service.receive("q")
        store.away = True
        with pytest.raises(StoreUnavailable):
            await service.delete("q", message.receipt_handle)
        assert service.registry.attributes("q", ["ApproximateNumberOfMessagesNotVisible"]) == {
            "ApproximateNumberOfMessagesNotVisible": "1"
        }
        store.away = False
        await service.delete("q", message.receipt_handle)
    async with running(tmp_path / "queues.db", clock) as again:
        clock.advance(30)
        assert await again.receive("q") == []  # deleted for good, not only in memory


async def test_a_receive_that_was_not_stored_delivers_nothing(tmp_path: Path, clock: ManualClock) -> None:
    store = AwayStore(tmp_path / "queues.db")
    async with running_on(store, clock) as service:
        await service.registry.create("q", {"VisibilityTimeout": "30"}, {})
        await service.send("q", SendRequest("a"), SENDER)
        store.away = True
        with pytest.raises(StoreUnavailable):
            await service.receive("q")
        store.away = False
        [message] = await service.receive("q", attribute_names=("ApproximateReceiveCount",))
        assert message.body == "a"
        assert message.attributes == {"ApproximateReceiveCount": "1"}


async def test_failed_fifo_deletes_and_visibility_changes_keep_the_group_in_order(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = AwayStore(tmp_path / "queues.db")
    async with running_on(store, clock) as service:
        await service.registry.create("q.fifo", {"FifoQueue": "true", "VisibilityTimeout": "30"}, {})
        for body in ("a", "b", "c"):
            await service.send("q.fifo", SendRequest(body, group_id="g", deduplication_id=body), SENDER)
        received = await service.receive("q.fifo", max_messages=3)
        assert [m.body for m in received] == ["a", "b", "c"]
        handles = [m.receipt_handle for m in received]
        store.away = True
        with pytest.raises(StoreUnavailable):
            await service.delete_batch("q.fifo", handles[:1])
        with pytest.raises(StoreUnavailable):
            await service.change_visibility_batch("q.fifo", [(h, 0) for h in handles])
        store.away = False
        assert await service.receive("q.fifo") == []  # still in flight: the group stays locked
        await service.change_visibility_batch("q.fifo", [(h, 0) for h in handles])
        assert [m.body for m in await service.receive("q.fifo", max_messages=3)] == ["a", "b", "c"]
