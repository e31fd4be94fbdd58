"""Concurrency grants of two nodes on a real PostgreSQL: a limit held across the nodes however their takes
interleave, a gone node's grant freed, a stopped node's grant given back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.quota import MIGRATIONS, Grants
from lambkin.store import Store
from lambkin.store.postgres import PostgresStore
from tests import postgres


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    database = postgres.shared().create_database()
    opened: list[Store] = []
    for _ in range(2):  # one pool of connections per node, as two processes have
        store = PostgresStore(database, "lambkin")
        store.migrate(MIGRATIONS)
        opened.append(store)
    yield opened
    for store in opened:
        store.close()


async def take_all(grants: Grants, key: str, limit: int, tries: int) -> int:
    """How many of `tries` takes at once were admitted (none given back)."""

    async def one() -> bool:
        try:
            await grants.take(key, limit)
        except Throttled:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(tries))))


async def test_a_reserved_limit_holds_across_two_nodes(stores: list[Store]) -> None:
    live = ["a", "b"]
    a, b = Grants(stores[0], "a", lambda: live), Grants(stores[1], "b", lambda: live)
    admitted = await asyncio.gather(take_all(a, "fn", 5, 8), take_all(b, "fn", 5, 8))
    assert sum(admitted) == 5
    assert a.held("fn") + b.held("fn") == 5


async def test_a_gone_nodes_grant_counts_for_nothing(stores: list[Store]) -> None:
    live = ["a", "b"]
    a, b = Grants(stores[0], "a", lambda: live), Grants(stores[1], "b", lambda: live)
    assert await take_all(a, "fn", 3, 3) == 3
    assert await take_all(b, "fn", 3, 1) == 0
    live.remove("a")  # a stopped heartbeating
    assert await take_all(b, "fn", 3, 3) == 3


async def test_slots_given_back_are_trimmed_for_the_others(stores: list[Store]) -> None:
    live = ["a", "b"]
    a, b = Grants(stores[0], "a", lambda: live), Grants(stores[1], "b", lambda: live)
    assert await take_all(a, "fn", 2, 2) == 2
    a.give("fn")
    a.give("fn")
    await a.trim()  # the peak of this second is still 2
    assert await take_all(b, "fn", 2, 1) == 0
    await a.trim()  # nothing in flight for a whole trim: the grant goes back
    assert await take_all(b, "fn", 2, 2) == 2


async def test_a_stopping_node_gives_its_grants_back(stores: list[Store]) -> None:
    live = ["a", "b"]
    a, b = Grants(stores[0], "a", lambda: live), Grants(stores[1], "b", lambda: live)
    task = asyncio.ensure_future(a.run())
    assert await take_all(a, "fn", 1, 1) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await take_all(b, "fn", 1, 1) == 1
