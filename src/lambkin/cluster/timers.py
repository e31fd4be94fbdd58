"""Singleton timers: periodic work that one node of the cluster does at a time, under the lease `timer:NAME`.

At each tick of its own loop, every node asks `turn()`; the node that holds the timer's lease, or (when
nobody does: never claimed, or its holder gone) the node ranked first for the timer's name among the ready
nodes, gets the lease and does the work, writing under it (fenced: a node that lost the timer writes
nothing). A node keeps the timer while it heartbeats. With one node, every tick is this node's.
"""

from __future__ import annotations

from lambkin.cluster.leases import Lease
from lambkin.cluster.owners import Owners


async def turn(owners: Owners, name: str) -> Lease | None:
    """This node's lease on `timer:NAME` if the tick is this node's to do, else None (`owners` is of kind
    "timer")."""
    lease = owners.held(name)
    if lease is not None:
        return lease
    claimed = await owners.claim_due([name])
    return claimed[0] if claimed else None
