"""Provisioned concurrency, kept: every second, each config's version holds its count of initialized
environments (started ahead of any invoke, never reaped while idle), and the counts go back to the configs."""

from __future__ import annotations

import asyncio
import logging

from lambkin.environments.pool import Pools
from lambkin.environments.ports import VersionConfig
from lambkin.functions.errors import FunctionsError
from lambkin.functions.provisioned import ProvisionedConcurrency
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
    ) -> None:
        self.configs = configs
        self.resolve = resolve
        self.pools = pools
        self.interval_s = interval_s

    async def run(self) -> None:
        """Runs until cancelled (for `Lambkin.background`)."""
        while True:
            try:
                await self.tick()
            except StoreUnavailable as exc:  # a database outage: one line a tick, the next tick tries again
                log.warning("keeping provisioned concurrency waits for the database: %s", exc.reason)
            except Exception:
                log.exception("keeping provisioned concurrency failed")
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        wanted: list[tuple[VersionConfig, int]] = []
        keys = []
        for config in await self.configs.targets():
            try:
                target = await self.resolve(config.function_name, config.qualifier)
            except FunctionsError:
                continue  # its alias or version went away; the config is answered but holds nothing
            wanted.append((target.version, config.requested))
            keys.append((config.function_name, config.qualifier))
        states = self.pools.provision(wanted)
        self.configs.report_allocated(dict(zip(keys, states, strict=True)))
