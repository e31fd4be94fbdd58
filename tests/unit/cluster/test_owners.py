"""Who serves a piece of leased work: the pure rule (`decide`) and `Owners` over fake membership and leases."""

from __future__ import annotations

from typing import Any

from lambkin.cluster.leases import Lease
from lambkin.cluster.owners import Here, Nowhere, Step, There, decide
from lambkin.cluster.rendezvous import owner
from tests.unit.cluster.fakes import NODES, owners_of


def key_ranked_first_by(node: str, nodes: list[str] = NODES) -> str:
    return next(k for k in (f"q{i}" for i in range(1000)) if owner(k, nodes) == node)


def test_the_holder_serves_and_others_relay_to_it() -> None:
    assert decide("q", "a", NODES, "a", relayed=False) == (Step.CLAIM, None)
    assert decide("q", "a", NODES, "b", relayed=False) == (Step.RELAY, "b")


def test_a_relayed_request_never_goes_on() -> None:
    assert decide("q", "a", NODES, "b", relayed=True) == (Step.REFUSE, None)


def test_free_work_is_claimed_by_the_node_ranked_first_and_relayed_there_by_the_others() -> None:
    key = key_ranked_first_by("b")
    assert decide(key, "b", NODES, None, relayed=False) == (Step.CLAIM, None)
    assert decide(key, "a", NODES, None, relayed=False) == (Step.RELAY, "b")
    # The node it was relayed to takes it, even if it would not rank itself first (the sets may differ).
    assert decide(key, "c", NODES, None, relayed=True) == (Step.CLAIM, None)


def test_with_no_ready_node_free_work_waits() -> None:
    assert decide("q", "a", [], None, relayed=False) == (Step.REFUSE, None)
    assert decide("q", "a", ["b"], None, relayed=True) == (Step.REFUSE, None)  # a is not ready itself


def test_a_gone_nodes_work_moves_to_the_next_node_by_rank_alone() -> None:
    keys = [f"k{i}" for i in range(200)]
    before = {k: owner(k, NODES) for k in keys}
    after = {k: owner(k, ["a", "c"]) for k in keys}
    assert all(after[k] == before[k] for k in keys if before[k] != "b")
    assert {after[k] for k in keys if before[k] == "b"} == {"a", "c"}


async def test_the_first_request_for_free_work_claims_it_where_it_ranks_first() -> None:
    table: dict[str, Lease] = {}
    key = key_ranked_first_by("b")
    assert await owners_of("a", table).place(key, relayed=False) == There("b", "http://b")
    place = await owners_of("b", table).place(key, relayed=False)
    assert place == Here(Lease("queue:" + key, "b", 1))
    assert await owners_of("c", table).place(key, relayed=False) == There("b", "http://b")


async def test_a_node_ranked_first_later_does_not_take_held_work() -> None:
    table: dict[str, Lease] = {}
    key = key_ranked_first_by("c")
    assert isinstance(await owners_of("a", table, ["a", "b"]).place(key, relayed=False), (Here, There))
    holder = table["queue:" + key].holder
    assert holder != "c"
    assert await owners_of("c", table).claim_due([key]) == []
    assert await owners_of("c", table).place(key, relayed=False) == There(holder, f"http://{holder}")


async def test_the_takeover_pass_claims_only_what_ranks_this_node_first() -> None:
    table: dict[str, Lease] = {}
    keys = [f"k{i}" for i in range(30)]
    got = await owners_of("a", table).claim_due(keys)
    assert sorted(lease.name for lease in got) == sorted(f"queue:{k}" for k in keys if owner(k, NODES) == "a")


async def test_a_relayed_request_for_work_held_elsewhere_is_refused() -> None:
    table = {"queue:q": Lease("queue:q", "b", 3)}
    assert isinstance(await owners_of("a", table).place("q", relayed=True), Nowhere)


async def test_who_holds_what_is_remembered_for_a_moment() -> None:
    table = {"queue:q": Lease("queue:q", "b", 3)}
    owners = owners_of("a", table)
    for _ in range(3):
        assert await owners.place("q", relayed=False) == There("b", "http://b")
    leases: Any = owners.leases
    assert leases.lookups == 1
