"""Placement decisions: where an invoke runs in a cluster, and each node's share of provisioned concurrency."""

from __future__ import annotations

from lambkin.invoke.placement import Facts, candidates, home_key, idle_publishers, share, warm_key
from lambkin.testing.versions import FakeVersion


def test_an_idle_environment_here_runs_it_here_whoever_else_has_one() -> None:
    assert candidates(Facts("b", True, homes=["a", "b"], idle_on=["a"])) == ["b"]


def test_a_node_that_published_an_idle_environment_comes_before_the_homes() -> None:
    assert candidates(Facts("c", False, homes=["a", "b", "c"], idle_on=["b"])) == ["b", "a", "c"]


def test_several_idle_nodes_are_tried_in_rank_order() -> None:
    assert candidates(Facts("d", False, homes=["c", "a", "b", "d"], idle_on=["b", "a"])) == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_without_idle_environments_the_homes_are_tried_in_rank_order_then_here() -> None:
    assert candidates(Facts("c", False, homes=["a", "b", "c"])) == ["a", "b", "c"]


def test_a_home_that_is_this_node_ends_the_list() -> None:
    """No node ranked after this one is better than a cold start here."""
    assert candidates(Facts("b", False, homes=["a", "b", "c"])) == ["a", "b"]
    assert candidates(Facts("a", False, homes=["a", "b", "c"])) == ["a"]


def test_a_warm_node_elsewhere_beats_a_cold_start_at_home_here() -> None:
    assert candidates(Facts("a", False, homes=["a", "b"], idle_on=["b"])) == ["b", "a"]


def test_a_node_not_ready_runs_what_no_ready_node_takes() -> None:
    """A starting or draining node is not among the homes: it still is the last resort."""
    assert candidates(Facts("z", False, homes=["a", "b"])) == ["a", "b", "z"]
    assert candidates(Facts("z", False, homes=[])) == ["z"]


def test_this_nodes_own_publication_is_never_a_hop() -> None:
    assert candidates(Facts("a", False, homes=["b", "a"], idle_on=["a"])) == ["b", "a"]


def test_idle_publishers_read_each_nodes_warm_keys() -> None:
    version = FakeVersion()
    key = warm_key(version)
    published: dict[str, object] = {"a": [key], "b": ["other"], "c": None, "me": [key]}
    assert idle_publishers("me", published, key) == ["a"]


def test_a_new_revision_names_nothing_warm_but_keeps_its_homes() -> None:
    old, new = FakeVersion(revision_id="r1"), FakeVersion(revision_id="r2")
    assert warm_key(old) != warm_key(new)
    assert home_key(old) == home_key(new)


def test_provisioned_shares_add_up_to_the_count() -> None:
    homes = ["c", "a", "b"]
    assert [share(7, homes, node) for node in homes] == [3, 2, 2]
    assert sum(share(2, homes, node) for node in homes) == 2
    assert share(2, homes, "b") == 0


def test_a_node_not_ready_keeps_no_provisioned_share() -> None:
    assert share(5, ["a", "b"], "z") == 0
