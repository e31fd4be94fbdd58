"""Pure decisions about a pool's environments: how many to start, which to freeze, which to reap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lambkin.environments.lifecycle import EnvState


@dataclass(frozen=True)
class IdleView:
    """What the decisions need to know about one idle environment."""

    id: str
    state: EnvState
    idle_since: float


def starts_to_launch(waiting: int, starting: int, max_parallel_starts: int) -> int:
    """One cold start per caller nobody is starting an environment for, within the parallel-start cap."""
    return max(0, min(waiting - starting, max_parallel_starts - starting))


@dataclass(frozen=True)
class Housekeeping:
    freeze: tuple[str, ...]
    reap: tuple[str, ...]


def housekeeping(
    idle: Sequence[IdleView], now: float, freeze_after_s: float, idle_timeout_s: float
) -> Housekeeping:
    """Idle past `idle_timeout_s` → reaped (scale to zero); idle past `freeze_after_s` and thawed → frozen."""
    reap = tuple(env.id for env in idle if now - env.idle_since >= idle_timeout_s)
    freeze = tuple(
        env.id
        for env in idle
        if env.state is EnvState.IDLE and env.id not in reap and now - env.idle_since >= freeze_after_s
    )
    return Housekeeping(freeze=freeze, reap=reap)
