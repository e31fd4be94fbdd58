"""One lambkin instance's outward network: its rules set up once, its sandboxes' links, its DNS forwarder."""

from __future__ import annotations

import itertools
import logging
import random
import socket
from collections.abc import Sequence
from pathlib import Path

from pyroute2 import IPRoute

from lambkin.network import egress, links, rules
from lambkin.network.dns import Forwarder
from lambkin.network.policy import NetworkPolicy, Slot, host_resolvers
from lambkin.network.vpc import EgressRule

log = logging.getLogger("lambkin.network")

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


class Outward:
    """Sets up (`start`) and tears down (`stop`) instance `instance`'s table and links; `attach` links one
    new namespace. Every method blocks: call them off the event loop."""

    def __init__(self, policy: NetworkPolicy, instance: str, data_dir: Path) -> None:
        self.policy = policy
        self.instance = instance
        self.data_dir = data_dir
        self.alias = f"lambkin {instance}"
        self.forwarder = Forwarder(policy.dns or host_resolvers())
        self._slots = itertools.count(random.randrange(policy.slots))  # spread instances over the range

    def start(self) -> None:
        """Removes what an earlier run of this instance left (links, its table) and writes the rules anew;
        removes the tables and links of instances whose data directory is gone."""
        links.remove(list(links.owned(self.alias)))
        if IP_FORWARD.read_text().strip() != "1":
            IP_FORWARD.write_text("1")  # routing for the sandboxes, as every container engine enables it
        rules.install(self.instance, self.policy, self.data_dir)
        for instance, data_dir in rules.tables().items():
            if instance != self.instance and data_dir and not Path(data_dir).exists():
                log.info("removing the network rules of instance %s (%s is gone)", instance, data_dir)
                rules.remove(instance)
                links.remove(list(links.owned(f"lambkin {instance}")))

    def stop(self) -> None:
        """Removes this instance's table and every link it still has."""
        rules.remove(self.instance)
        links.remove(list(links.owned(self.alias)))

    def attach(self, inside: IPRoute, host: IPRoute, host_ns: int) -> Slot:
        """Links the namespace the calling thread is in (`inside`'s) to the host (`host`'s, fd `host_ns`)."""
        return links.attach(self.policy, inside, host, host_ns, self.alias, next(self._slots))

    def allow(self, slot: Slot, allowed: Sequence[EgressRule]) -> int:
        """Limits the sandbox on `slot` to `allowed` (a VPC function's security groups' rules), besides what
        no sandbox reaches; returns the key to `release` it by (its host link's interface index)."""
        index = socket.if_nametoindex(slot.host_link)
        rules.apply(egress.allow(rules.FAMILY, rules.table_name(self.instance), index, allowed))
        return index

    def release(self, link_index: int) -> None:
        """Forgets a sandbox's VPC egress (before its namespace, and so its link, goes)."""
        rules.apply(egress.release(rules.FAMILY, rules.table_name(self.instance), link_index))
