"""Where an invoke runs in a cluster, and which node keeps how many provisioned environments: pure decisions.

Nothing here does I/O: the Invoker's placement (invoke/remote.py) gathers the facts (is an environment of the
version idle here, which ready nodes published one idle, the version's home nodes by rendezvous) and asks.

An invoke runs, in this order of preference (docs/design/placement.md):
1. here, when an environment of its version is idle here (no hop, no cold start);
2. on a ready node that published an idle one (one hop, no cold start), the best-ranked of them first;
3. on the version's home nodes by rendezvous rank, the first first, spilling to the next when one answers
   that it is full (a cold start would wait for an init slot there).
When every candidate is full (or unreachable), it runs here: the node that has the caller is the overload
fallback, where it waits for an init slot like any cold start of one node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lambkin.environments.ports import VersionConfig

WARM = "warm"  # what each node publishes: the warm keys of the versions it has an idle environment of
PROVISIONED = "provisioned"  # what each node publishes: its initialized provisioned environments by config


def home_key(version: VersionConfig) -> str:
    """The version's key for rendezvous (its homes stay where they are across code and config updates)."""
    return f"{version.function_arn}:{version.version}"


def warm_key(version: VersionConfig) -> str:
    """The key of an environment's version as it is published: one update later it names nothing warm."""
    return f"{version.function_arn}:{version.version}:{version.revision_id}"


@dataclass(frozen=True)
class Facts:
    """What a placement decision knows. `homes`: the ready nodes by rendezvous rank for the version;
    `idle_on`: the ready nodes (other than this one) that published an idle environment of it."""

    me: str
    idle_here: bool
    homes: Sequence[str]
    idle_on: Iterable[str] = ()


def candidates(facts: Facts) -> list[str]:
    """The nodes to try in order (each at most once); the last resort, here, is always last."""
    if facts.idle_here:
        return [facts.me]
    rank = {name: i for i, name in enumerate(facts.homes)}
    idle = sorted((n for n in facts.idle_on if n != facts.me), key=lambda n: (rank.get(n, len(rank)), n))
    order: list[str] = []
    for name in (*idle, *facts.homes):
        if name not in order:
            order.append(name)
        if name == facts.me:
            break  # a home that is this node: run here, no node after it is better
    if facts.me not in order:
        order.append(facts.me)
    return order


def idle_publishers(me: str, published: Mapping[str, object], key: str) -> list[str]:
    """The nodes whose published warm set (node name -> its WARM value) holds `key`."""
    found = []
    for name, warm in published.items():
        if name != me and isinstance(warm, list) and key in warm:
            found.append(name)
    return found


def share(count: int, homes: Sequence[str], me: str) -> int:
    """This node's part of a provisioned config's `count`, spread over the ready nodes ranked for the
    version (`homes`): each keeps count // n, and the first count % n of them one more. A node that is not
    ready keeps none (its part is the others' until it is)."""
    if me not in homes:
        return 0
    index = list(homes).index(me)
    whole, extra = divmod(count, len(homes))
    return whole + (1 if index < extra else 0)
