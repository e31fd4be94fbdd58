"""Cluster-wide concurrency grants: the pure decisions, and a node's grants over a fake store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from lambkin.invoke.concurrency import ACCOUNT_LIMIT, RESERVED_LIMIT, Throttled
from lambkin.invoke.quota import HEADROOM, UNRESERVED, Grants, grant, trimmed

T = TypeVar("T")


def test_a_grant_is_what_the_live_others_leave_of_the_limit() -> None:
    assert grant({"a": 3, "b": 1}, "b", want=5, limit=5, live={"a", "b"}) == 2
    assert grant({"a": 5}, "b", want=1, limit=5, live={"a", "b"}) == 0


def test_a_gone_nodes_grant_counts_for_nothing() -> None:
    assert grant({"a": 5}, "b", want=2, limit=5, live={"b"}) == 2


def test_a_grant_is_no_more_than_wanted() -> None:
    assert grant({}, "a", want=3, limit=1000, live={"a"}) == 3


def test_a_lowered_limit_leaves_less_than_held() -> None:
    assert grant({"a": 4, "b": 3}, "b", want=4, limit=5, live={"a", "b"}) == 1


def test_trimming_keeps_the_recent_peak_and_never_grows() -> None:
    assert trimmed(held=5, in_flight=1, peak=3, headroom=0) == 3
    assert trimmed(held=5, in_flight=4, peak=2, headroom=0) == 4
    assert trimmed(held=2, in_flight=0, peak=1, headroom=2) == 2


class FakeDb:
    """Answers each unit of work with what `_grow` would, over an in-memory table of grants."""

    def __init__(self, others: dict[str, int]) -> None:
        self.others = others
        self.units = 0

    async def run(self, fn: Callable[[Any], T]) -> T:
        self.units += 1
        return fn(FakeConnection(self))


class FakeConnection:
    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.rows: list[tuple[str, int]] = []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[str, int]]:
        if sql.startswith("SELECT node, slots"):
            return list(self.db.others.items())
        if sql.startswith("INSERT INTO concurrency_grants"):
            _, node, slots = params
            self.db.others[node] = slots
        return []


async def test_a_node_asks_the_database_only_when_its_grant_is_used_up() -> None:
    db = FakeDb({"a": 3})
    grants = Grants(db, "b", lambda: ["a", "b"])  # type: ignore[arg-type]
    await grants.take("fn", 5)
    await grants.take("fn", 5)
    assert db.units == 2 and grants.held("fn") == 2  # reserved: no headroom, the second asked again
    grants.give("fn")
    await grants.take("fn", 5)
    assert db.units == 2  # the slot given back is taken again without asking
    with pytest.raises(Throttled) as throttled:
        await grants.take("fn", 5)
    assert throttled.value.reason == RESERVED_LIMIT


async def test_the_unreserved_pool_is_granted_with_headroom() -> None:
    db = FakeDb({})
    grants = Grants(db, "a", lambda: ["a"])  # type: ignore[arg-type]
    for _ in range(1 + HEADROOM):
        await grants.take(UNRESERVED, 1000)
    assert db.units == 1


async def test_the_account_pool_throttles_with_its_reason() -> None:
    db = FakeDb({"a": 10})
    grants = Grants(db, "b", lambda: ["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(Throttled) as throttled:
        await grants.take(UNRESERVED, 10)
    assert throttled.value.reason == ACCOUNT_LIMIT
