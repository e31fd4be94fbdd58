"""Queues served by the node holding their lease: two queue services ("nodes") on one database, fake leases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lambkin.cluster.leases import Lease
from lambkin.queues.errors import QueueDoesNotExist, QueueElsewhere, QueueUnavailable
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests.unit.cluster.fakes import owners_of


@contextlib.asynccontextmanager
async def node(
    name: str, path: Path, table: dict[str, Lease], ready: list[str], clock: ManualClock
) -> AsyncIterator[QueueService]:
    owners = owners_of(name, table, ready)
    service = open_queue_service(SqliteStore(path), "us-east-1", "123456789012", clock, owners)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        service.db.close()


async def send(service: QueueService, body: str) -> str:
    return (await service.send("q", SendRequest(body=body), "sender")).message_id


async def test_a_queue_taken_over_keeps_its_messages_and_the_receipts_of_those_in_flight(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    table: dict[str, Lease] = {}
    path = tmp_path / "queues.db"
    async with node("a", path, table, ["a"], clock) as a:
        await a.create_queue("q", {"VisibilityTimeout": "30"}, {})
        await send(a, "one")
        await send(a, "two")
        [taken] = await a.receive("q")
        assert table["queue:q"].holder == "a"
        del table["queue:q"]  # node a is gone: its lease lapsed
        async with node("b", path, table, ["b"], clock) as b:
            left = await b.receive("q", max_messages=10, visibility_timeout=300)
            assert [m.body for m in left] == ["two" if taken.body == "one" else "one"]
            await b.delete("q", taken.receipt_handle)  # a receipt handed out by node a
            clock.advance(31)
            assert await b.receive("q", max_messages=10) == []  # deleted, not back
            assert table["queue:q"].holder == "b"


async def test_a_node_that_lost_its_lease_writes_nothing_and_forgets_the_queue(tmp_path: Path) -> None:
    clock = ManualClock()
    table: dict[str, Lease] = {}
    path = tmp_path / "queues.db"
    async with node("a", path, table, ["a", "b"], clock) as a, node("b", path, table, ["a", "b"], clock) as b:
        owner, other = (a, b) if table.get("queue:q") is None and a.owned.owners.should_own("q") else (b, a)
        await owner.create_queue("q", {}, {})
        await send(owner, "kept")
        table["queue:q"] = Lease("queue:q", other.owned.owners.me, 2)  # taken over while paused
        with pytest.raises(QueueUnavailable):
            await send(owner, "lost")
        assert owner.owned.lease("q") is None
        assert [m.body for m in await other.receive("q", max_messages=10)] == ["kept"]
        with pytest.raises(QueueElsewhere) as elsewhere:
            await owner.here("q")
        assert elsewhere.value.url == f"http://{other.owned.owners.me}"


async def test_requests_for_another_nodes_queue_go_there_and_relayed_ones_stop(tmp_path: Path) -> None:
    clock = ManualClock()
    table: dict[str, Lease] = {}
    path = tmp_path / "queues.db"
    async with node("a", path, table, ["a", "b"], clock) as a, node("b", path, table, ["a", "b"], clock) as b:
        first, second = (a, b) if a.owned.owners.should_own("q") else (b, a)
        with pytest.raises(QueueElsewhere):
            await second.create_queue("q", {}, {})
        await first.create_queue("q", {}, {})
        assert await second.exists("q")
        assert await second.queue_names() == ["q"]
        with pytest.raises(QueueElsewhere):
            await second.here("q")
        with pytest.raises(QueueUnavailable):
            await second.here("q", relayed=True)
        with pytest.raises(QueueDoesNotExist):
            await second.here("nothing")


async def test_the_takeover_pass_loads_the_queues_a_gone_node_held(tmp_path: Path) -> None:
    clock = ManualClock()
    table: dict[str, Lease] = {}
    path = tmp_path / "queues.db"
    async with node("a", path, table, ["a"], clock) as a:
        for name in ("q", "r", "s"):
            await a.create_queue(name, {}, {})
        await send(a, "waiting")
    table.clear()
    async with node("b", path, table, ["b"], clock) as b:
        await b.owned.take_due()
        assert sorted(b.owned.leases) == ["q", "r", "s"]
        owned: Any = b.owned.leases["q"]
        assert owned.holder == "b"
        assert b.registry.attributes("q", ["ApproximateNumberOfMessages"]) == {
            "ApproximateNumberOfMessages": "1"
        }
