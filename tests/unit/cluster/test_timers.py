"""Singleton timers: each tick is one node's; when that node is gone, the next node in rank takes it over."""

from __future__ import annotations

from lambkin.cluster.leases import Lease
from lambkin.cluster.timers import turn
from tests.unit.cluster.fakes import owners_of


async def whose_turn(nodes: dict[str, object], table: dict[str, Lease]) -> list[str]:
    turns = []
    for name, owners in nodes.items():
        if await turn(owners, "sweep") is not None:  # type: ignore[arg-type]
            turns.append(name)
    return turns


async def test_one_node_ticks_and_the_next_takes_over_when_it_is_gone() -> None:
    table: dict[str, Lease] = {}
    names = ["a", "b", "c"]
    nodes: dict[str, object] = {name: owners_of(name, table, names, kind="timer") for name in names}
    [first] = await whose_turn(nodes, table)
    assert await whose_turn(nodes, table) == [first]  # every tick, the same node
    # The node dies: its lease lapses and it is no longer ready anywhere.
    del table["timer:sweep"], nodes[first]
    names.remove(first)  # every node's view of the ready nodes
    [second] = await whose_turn(nodes, table)
    assert second != first
    assert await whose_turn(nodes, table) == [second]


async def test_a_node_ranked_first_does_not_take_a_timer_another_live_node_holds() -> None:
    table = {"timer:sweep": Lease("timer:sweep", "z", 4)}
    nodes: dict[str, object] = {name: owners_of(name, table, ["a", "b", "z"], kind="timer") for name in "ab"}
    assert await whose_turn(nodes, table) == []
