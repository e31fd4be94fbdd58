"""Scale-out: the nodes of a cluster on one PostgreSQL, their leases on work, news of changes, and their peers.

A server alone is a cluster of one (`solo`): the same objects, with nothing to ask anyone, so the parts that
use them never ask "am I clustered?". docs/design/cluster.md draws the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambkin.cluster.bus import Bus, PgBus, SoloBus
from lambkin.cluster.leases import ClusterLeases, Lease, LeaseLost, Leases, SoloLeases
from lambkin.cluster.membership import (
    DRAINING,
    MIGRATIONS,
    READY,
    STARTING,
    ClusterMembership,
    Membership,
    Node,
    SoloMembership,
)
from lambkin.cluster.peers import PeerResponse, Peers, PeerUnreachable, cluster_secret
from lambkin.cluster.relay import PeerRelay
from lambkin.config import SettingInvalid, Settings
from lambkin.store import Store

__all__ = [
    "DRAINING",
    "READY",
    "STARTING",
    "Bus",
    "Cluster",
    "Lease",
    "LeaseLost",
    "Leases",
    "Membership",
    "Node",
    "PeerResponse",
    "PeerUnreachable",
    "Peers",
    "join",
    "node_name",
    "solo",
]

_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class Cluster:
    """What this node knows of the cluster and how it deals with the others (`peers` None when alone)."""

    membership: Membership
    leases: Leases
    bus: Bus
    peers: Peers | None = None
    relayer: PeerRelay | None = None

    @property
    def clustered(self) -> bool:
        return self.peers is not None


def solo(url: str) -> Cluster:
    """A server alone."""
    membership = SoloMembership("local", url)
    return Cluster(membership, SoloLeases(membership.name), SoloBus())


def node_name(settings: Settings) -> str:
    """This node's name, once the settings are checked fit for a cluster (else SettingInvalid)."""
    name = settings.node_name or ""
    if settings.database_url is None:
        raise SettingInvalid(
            "LAMBKIN_NODE_NAME (--node-name) needs LAMBKIN_DATABASE_URL (--database postgresql://...): the "
            "nodes of a cluster share their state there"
        )
    if not _NODE_NAME.fullmatch(name):
        raise SettingInvalid(
            f"LAMBKIN_NODE_NAME (--node-name) {name!r}: 1 to 63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def join(settings: Settings, db: Store) -> Cluster:
    """This node of the cluster on `settings.database_url`, its tables migrated on `db` (the "cluster"
    store); nothing runs until the membership's and the bus's loops do."""
    name = node_name(settings)
    assert settings.database_url is not None
    db.migrate(MIGRATIONS)
    membership = ClusterMembership(
        db, name, settings.advertised, settings.heartbeat_s, settings.node_gone_after_s
    )
    leases = ClusterLeases(db, membership)
    membership.after_beat(leases.check)
    peers = Peers(membership, cluster_secret(db))
    return Cluster(membership, leases, PgBus(settings.database_url), peers, PeerRelay(peers))
