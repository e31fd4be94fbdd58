"""Builds the execution core (environment pools, concurrency, the Invoker, the log store) from settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambkin.config import Settings
from lambkin.environments.image_source import ResolvingImageSource
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.invoke.concurrency import ConcurrencyLimiter
from lambkin.invoke.invoker import Invoker
from lambkin.logs.store import LogStore
from lambkin.sandbox.spec import SandboxBackend


@dataclass(frozen=True)
class ExecutionCore:
    pools: Pools
    concurrency: ConcurrencyLimiter
    invoker: Invoker
    logs: LogStore

    def close(self) -> None:
        self.logs.close()


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw else default


def build_execution(
    settings: Settings, sandboxes: SandboxBackend, images: Any, environ: Mapping[str, str] | None = None
) -> ExecutionCore:
    """LAMBKIN_IDLE_TIMEOUT (s, default 300), LAMBKIN_FREEZE_AFTER (s, 0.5), LAMBKIN_MAX_PARALLEL_STARTS
    (4 per core), LAMBKIN_LOG_RETENTION_DAYS (7), LAMBKIN_BUSY_POLL_US (1000; 0 turns busy polling off);
    the account's concurrency limit from `settings`."""
    env = os.environ if environ is None else environ
    logs = LogStore(
        settings.data_dir / "logs", retention_s=_number(env, "LAMBKIN_LOG_RETENTION_DAYS", 7) * 86400
    )
    pools = Pools(
        sandboxes,
        ResolvingImageSource(images),
        logs,
        PoolSettings(
            region=settings.region,
            idle_timeout_s=_number(env, "LAMBKIN_IDLE_TIMEOUT", 300),
            freeze_after_s=_number(env, "LAMBKIN_FREEZE_AFTER", 0.5),
            max_parallel_starts=int(_number(env, "LAMBKIN_MAX_PARALLEL_STARTS", 4 * (os.cpu_count() or 1))),
            busy_poll_s=_number(env, "LAMBKIN_BUSY_POLL_US", 1000) / 1e6,
        ),
    )
    concurrency = ConcurrencyLimiter(settings.account_concurrency)
    return ExecutionCore(pools, concurrency, Invoker(concurrency, pools), logs)
