"""A node's drain: draining announced once, invocations under way waited for within the notice and the bound,
every lease handed back (or left to expire when the database is away); the notice only for a cluster's node."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from lambkin.cluster.drain import Drain, DrainSettings, drain_settings
from lambkin.config import Settings
from lambkin.store import StoreUnavailable


@dataclass
class Membership:
    state: str = "ready"
    states: list[str] = field(default_factory=list)

    def set_state(self, state: str) -> None:
        self.state = state
        self.states.append(state)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str = "node-1"
    epoch: int = 1


@dataclass
class Leases:
    held: list[str]
    database_away: bool = False

    def mine(self) -> list[Lease]:
        return [Lease(name) for name in self.held]

    async def release_all(self) -> None:
        if self.database_away:
            raise StoreUnavailable("the database is unreachable")
        self.held.clear()


class Ticks:
    """A clock that moves one second each time it is read: a test's bound passes after a few polls."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def drain(in_use: Any, notice_s: float = 0.0, bound_s: float = 100.0, leases: Leases | None = None) -> Drain:
    return Drain(
        Membership(),  # type: ignore[arg-type]
        leases or Leases([]),  # type: ignore[arg-type]
        in_use,
        DrainSettings(notice_s=notice_s, bound_s=bound_s),
        clock=Ticks(),
    )


def test_begin_says_draining_once() -> None:
    node = drain(lambda: 0)
    node.begin()
    node.begin()
    assert node.membership.states == ["draining"]  # type: ignore[attr-defined]


async def test_settle_returns_once_the_invocations_under_way_are_done() -> None:
    counts = iter([3, 2, 1, 0])
    seen: list[int] = []

    def in_use() -> int:
        seen.append(next(counts))
        return seen[-1]

    await drain(in_use).settle()
    assert seen == [3, 2, 1, 0]


async def test_settle_keeps_answering_through_the_notice_when_nothing_is_under_way() -> None:
    node = drain(lambda: 0, notice_s=5)
    await node.settle()
    assert node.clock.now >= 5  # type: ignore[attr-defined]


async def test_settle_gives_up_at_the_bound_and_says_what_it_cut_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = drain(lambda: 2, bound_s=4)
    with caplog.at_level(logging.WARNING, "lambkin.cluster"):
        await node.settle()
    assert "2 invocations cut off" in caplog.text


async def test_hand_back_releases_every_lease() -> None:
    leases = Leases(["queue:a", "async:fn", "esm:1"])
    await drain(lambda: 0, leases=leases).hand_back()
    assert leases.held == []


async def test_leases_the_database_cannot_take_back_are_left_to_expire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leases = Leases(["queue:a", "async:fn"], database_away=True)
    with caplog.at_level(logging.WARNING, "lambkin.cluster"):
        await drain(lambda: 0, leases=leases).hand_back()
    assert "2 leases not released" in caplog.text


def test_the_notice_is_for_a_node_behind_a_balancer_unless_set(tmp_path: Path) -> None:
    alone = Settings(data_dir=tmp_path)
    node = Settings(data_dir=tmp_path, node_name="node-1", database_url="postgresql://db/lambkin")
    assert drain_settings(alone) == DrainSettings(notice_s=0.0, bound_s=30.0)
    assert drain_settings(node).notice_s > 0
    assert drain_settings(replace(node, drain_notice_s=0.5, drain_timeout_s=5)) == DrainSettings(0.5, 5)
