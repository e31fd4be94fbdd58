"""Provisioned concurrency, kept: every second, and as soon as a config changes on any node (the bus's news),
each config's version holds its count of initialized environments (started ahead of any invoke, never reaped
while idle), and the counts go back to the configs.

In a cluster (`spread`), each ready node keeps its share of a config's count (invoke/placement.share: the
count split evenly over the nodes ranked for the version) and publishes what it holds; a config's allocated
count is the sum over the ready nodes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from lambkin.cluster.bus import Bus
from lambkin.environments.pool import Pools
from lambkin.environments.ports import VersionConfig
from lambkin.functions.errors import FunctionsError
from lambkin.functions.provisioned import TOPIC, ProvisionedConcurrency
from lambkin.invoke.forward import Nodes
from lambkin.invoke.placement import PROVISIONED, home_key, share
from lambkin.invoke.targets import Resolve
from lambkin.store import StoreUnavailable

log = logging.getLogger("lambkin.invoke.provisioning")


class ProvisionedKeeper:
    def __init__(
        self,
        configs: ProvisionedConcurrency,
        resolve: Resolve,
        pools: Pools,
        interval_s: float = 1.0,
        bus: Bus | None = None,
        spread: ClusterSpread | None = None,
    ) -> None:
        self.spread = spread
        self.configs = configs
        self.resolve = resolve
        self.pools = pools
        self.interval_s = interval_s
        self._news = asyncio.Event()
        if bus is not None:  # a config changed on some node: tick at once
            bus.subscribe(TOPIC, lambda key: self._news.set())

    async def run(self) -> None:
        """Runs until cancelled (for `Lambkin.background`)."""
        while True:
            self._news.clear()
            try:
                await self.tick()
            except StoreUnavailable as exc:  # a database outage: one line a tick, the next tick tries again
                log.warning("keeping provisioned concurrency waits for the database: %s", exc.reason)
            except Exception:
                log.exception("keeping provisioned concurrency failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), self.interval_s)

    async def tick(self) -> None:
        wanted: list[tuple[VersionConfig, int]] = []
        keys = []
        for config in await self.configs.targets():
            try:
                target = await self.resolve(config.function_name, config.qualifier)
            except FunctionsError:
                continue  # its alias or version went away; the config is answered but holds nothing
            count = config.requested
            if self.spread is not None:
                count = self.spread.share(target.version, count)
            wanted.append((target.version, count))
            keys.append((config.function_name, config.qualifier))
        states = dict(zip(keys, self.pools.provision(wanted), strict=True))
        if self.spread is not None:
            states = self.spread.allocated(states)
        self.configs.report_allocated(states)


Allocation = Mapping[tuple[str, str], tuple[int, str | None]]


class ClusterSpread:
    """A provisioned config's count spread over the cluster's ready nodes (`nodes` is cluster.membership's
    Membership, `rank` cluster.rendezvous.rank)."""

    def __init__(self, nodes: Nodes, rank: Callable[[str, Sequence[str]], list[str]]) -> None:
        self.nodes = nodes
        self.rank = rank

    def share(self, version: VersionConfig, count: int) -> int:
        names = [node.name for node in self.nodes.ready()]
        return share(count, self.rank(home_key(version), names), self.nodes.name)

    def allocated(self, mine: Allocation) -> dict[tuple[str, str], tuple[int, str | None]]:
        """Publishes this node's counts; returns every ready node's counts added up (the failures are this
        node's)."""
        self.nodes.publish(PROVISIONED, {f"{fn}:{qualifier}": n for (fn, qualifier), (n, _) in mine.items()})
        total = {}
        for (fn, qualifier), (count, failure) in mine.items():
            for node in self.nodes.ready():
                if node.name != self.nodes.name:
                    theirs = node.extra.get(PROVISIONED)
                    if isinstance(theirs, dict):
                        count += int(theirs.get(f"{fn}:{qualifier}", 0))
            total[(fn, qualifier)] = (count, failure)
        return total
