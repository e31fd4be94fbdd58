"""Provisioned concurrency, kept: every second, each config's version holds its count of initialized
environments (started ahead of any invoke, never reaped while idle), and the counts go back to the configs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from lambkin.environments.pool import Pools
from lambkin.functions.errors import FunctionsError
from lambkin.functions.provisioned import ProvisionedConcurrency

log = logging.getLogger("lambkin.invoke.provisioning")


class VersionResolver(Protocol):
    async def resolve_for_invoke(self, function_name: str, qualifier: str | None) -> tuple[Any, str]: ...


class ProvisionedKeeper:
    def __init__(
        self,
        configs: ProvisionedConcurrency,
        functions: VersionResolver,
        pools: Pools,
        interval_s: float = 1.0,
    ) -> None:
        self.configs = configs
        self.functions = functions
        self.pools = pools
        self.interval_s = interval_s

    async def run(self) -> None:
        """Runs until cancelled (for `Lambkin.background`)."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("keeping provisioned concurrency failed")
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        targets = []
        keys = []
        for config in await self.configs.targets():
            try:
                version, _ = await self.functions.resolve_for_invoke(config.function_name, config.qualifier)
            except FunctionsError:
                continue  # its alias or version went away; the config is answered but holds nothing
            targets.append((version, config.requested))
            keys.append((config.function_name, config.qualifier))
        states = self.pools.provision(targets)
        self.configs.report_allocated(dict(zip(keys, states, strict=True)))
