"""Provisioned concurrency over a cluster: each ready node keeps its share, and the allocated count any node
answers is the sum of what every ready node published."""

from __future__ import annotations

from collections.abc import Sequence

from lambkin.invoke.placement import PROVISIONED
from lambkin.invoke.provisioning import ClusterSpread
from lambkin.testing.nodes import FakeNodes, Node
from lambkin.testing.versions import FakeVersion


def in_order(key: str, names: Sequence[str]) -> list[str]:
    return sorted(names)


def test_each_ready_node_keeps_its_share() -> None:
    ready = [Node("a"), Node("b"), Node("c")]
    shares = [ClusterSpread(FakeNodes(n.name, ready), in_order).share(FakeVersion(), 5) for n in ready]  # type: ignore[arg-type]
    assert shares == [2, 2, 1]


def test_the_allocated_count_is_every_ready_nodes_added_up() -> None:
    ready = [Node("a"), Node("b", {PROVISIONED: {"fn:live": 2}}), Node("c", {PROVISIONED: {"fn:live": 1}})]
    nodes = FakeNodes("a", ready)
    spread = ClusterSpread(nodes, in_order)  # type: ignore[arg-type]
    assert spread.allocated({("fn", "live"): (2, None)}) == {("fn", "live"): (5, None)}
    assert nodes.published[PROVISIONED] == {"fn:live": 2}
