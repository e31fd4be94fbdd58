"""Pure decisions about a pool's environments: how many to start, which start may init now, which to
freeze, reap or retire."""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from lambkin.environments.lifecycle import EnvState


@dataclass(frozen=True)
class IdleView:
    """What the decisions need to know about one idle environment."""

    id: str
    state: EnvState
    idle_since: float
    born: float  # when its environment was created (the clock's monotonic time)


def starts_to_launch(waiting: int, starting: int) -> int:
    """One cold start per caller nobody is starting an environment for (each then waits for an init slot)."""
    return max(0, waiting - starting)


class StartVerdict(enum.Enum):
    """What a cold start waiting for an init slot does now."""

    BEGIN = "begin"  # a slot is free and nobody queued before it: its sandbox is created and init runs
    WAIT = "wait"  # the host runs as many inits as it has slots (or others queued first): wait for one to end
    DROP = "drop"  # every caller it was for has an environment already (one that finished an event or init)


@dataclass(frozen=True)
class InitLoad:
    """The host's inits and one queued start's place among them."""

    initializing: int  # inits under way on this host, every function's
    slots: int  # inits the host runs at once (max_parallel_starts: its cores)
    queued_before: int  # starts that asked for a slot before this one and still wait
    unserved: int | None  # callers of its version with neither an environment nor an init under way for
    # them; None for a start that serves no caller (provisioned concurrency), needed whatever happens


def admit_start(load: InitLoad) -> StartVerdict:
    """A start begins its init only in a free slot, never ahead of a start already queued; one whose callers
    were all served meanwhile is dropped, so that inits never outnumber the cores and slow each other past
    the init limit (the time a start waits for its slot is not init time)."""
    if load.unserved is not None and load.unserved <= 0:
        return StartVerdict.DROP
    if load.initializing >= load.slots or load.queued_before > 0:
        return StartVerdict.WAIT
    return StartVerdict.BEGIN


def next_start(queued: Sequence[Hashable], initializing: Mapping[Hashable, int]) -> int | None:
    """Which queued start takes a freed init slot (its index in arrival order): the longest-queued of the
    function with the fewest inits under way, so that a burst of one function cannot hold every other
    function's cold starts behind its own. None when nothing is queued."""
    best: int | None = None
    for index, key in enumerate(queued):
        if best is None or initializing.get(key, 0) < initializing.get(queued[best], 0):
            best = index
    return best


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
