"""Builds the execution core (environment pools, concurrency, the Invoker) over a log store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambkin.environments.admission import InitGate
from lambkin.environments.image_source import ResolvingImageSource
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.environments.ports import CredentialSource
from lambkin.invoke.concurrency import ConcurrencyLimiter
from lambkin.invoke.invoker import Invoker
from lambkin.logs.store import LogStore
from lambkin.metrics.recorder import Recorder
from lambkin.sandbox.spec import SandboxBackend


@dataclass(frozen=True)
class ExecutionCore:
    pools: Pools
    concurrency: ConcurrencyLimiter
    invoker: Invoker
    logs: LogStore


def build_execution(
    sandboxes: SandboxBackend,
    images: Any,
    logs: LogStore,
    pools: PoolSettings,
    account_concurrency: int,
    credentials: CredentialSource,
    metrics: Recorder | None = None,
    gate: InitGate | None = None,
) -> ExecutionCore:
    """Pools on `sandboxes` that write to `logs` and give each environment `credentials`, under the
    account's concurrency limit; with `metrics`, invocations and cold starts are counted there; `gate`: the
    host's init slots, when other pools (another region's) share them."""
    pooled = Pools(
        sandboxes,
        ResolvingImageSource(images),
        logs,
        pools,
        credentials=credentials,
        metrics=metrics,
        gate=gate,
    )
    concurrency = ConcurrencyLimiter(account_concurrency)
    return ExecutionCore(pooled, concurrency, Invoker(concurrency, pooled, metrics=metrics), logs)
