"""Rendezvous hashing: every node computes the same owner; a leaving node moves only its own keys."""

from collections import Counter

from lambkin.cluster.rendezvous import owner, rank

NODES = ["n1", "n2", "n3"]
KEYS = [f"queue:q{i}" for i in range(3000)]


def test_rank_is_a_stable_order_of_all_the_names() -> None:
    assert sorted(rank("queue:a", NODES)) == sorted(NODES)
    assert rank("queue:a", NODES) == rank("queue:a", list(reversed(NODES)))
    assert owner("queue:a", NODES) == rank("queue:a", NODES)[0]
    assert owner("queue:a", []) is None


def test_keys_spread_over_the_nodes() -> None:
    counts = Counter(owner(key, NODES) for key in KEYS)
    assert set(counts) == set(NODES)
    assert min(counts.values()) > len(KEYS) / 3 * 0.85


def test_a_node_leaving_moves_only_its_keys_each_to_its_next_node() -> None:
    before = {key: rank(key, NODES) for key in KEYS}
    survivors = ["n1", "n3"]
    for key, order in before.items():
        after = owner(key, survivors)
        if order[0] != "n2":
            assert after == order[0]
        else:
            assert after == order[1]
