"""Pure decisions about a pool's environments: how many to start, which to freeze, reap or retire."""

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
    born: float  # when its environment was created (the clock's monotonic time)


def starts_to_launch(waiting: int, starting: int, max_parallel_starts: int) -> int:
    """One cold start per caller nobody is starting an environment for, within the parallel-start cap."""
    return max(0, min(waiting - starting, max_parallel_starts - starting))


@dataclass(frozen=True)
class Housekeeping:
    freeze: tuple[str, ...]
    reap: tuple[str, ...]  # idle too long: gone unless provisioned concurrency keeps them
    retire: tuple[str, ...]  # too old: gone whatever keeps them (their credentials end soon)


def housekeeping(
    idle: Sequence[IdleView], now: float, freeze_after_s: float, idle_timeout_s: float, max_age_s: float
) -> Housekeeping:
    """Older than `max_age_s` → retired; idle past `idle_timeout_s` → reaped (scale to zero); idle past
    `freeze_after_s` and thawed → frozen."""
    retire = tuple(env.id for env in idle if too_old(env.born, now, max_age_s))
    reap = tuple(env.id for env in idle if now - env.idle_since >= idle_timeout_s and env.id not in retire)
    gone = {*retire, *reap}
    freeze = tuple(
        env.id
        for env in idle
        if env.state is EnvState.IDLE and env.id not in gone and now - env.idle_since >= freeze_after_s
    )
    return Housekeeping(freeze=freeze, reap=reap, retire=retire)


def too_old(born: float, now: float, max_age_s: float) -> bool:
    """Whether an environment has lived its maximum age: it takes no further invocation."""
    return now - born >= max_age_s
