"""Pool decisions: how many cold starts, which idle environments to freeze and to reap."""

from __future__ import annotations

from lambkin.environments.lifecycle import EnvState
from lambkin.environments.scaling import IdleView, housekeeping, starts_to_launch


def test_one_start_per_waiting_caller_nobody_starts_for() -> None:
    assert starts_to_launch(waiting=5, starting=0, max_parallel_starts=8) == 5
    assert starts_to_launch(waiting=5, starting=2, max_parallel_starts=8) == 3
    assert starts_to_launch(waiting=1, starting=1, max_parallel_starts=8) == 0
    assert starts_to_launch(waiting=0, starting=0, max_parallel_starts=8) == 0


def test_parallel_starts_are_capped() -> None:
    assert starts_to_launch(waiting=50, starting=0, max_parallel_starts=8) == 8
    assert starts_to_launch(waiting=50, starting=8, max_parallel_starts=8) == 0
    assert starts_to_launch(waiting=50, starting=6, max_parallel_starts=8) == 2


def test_housekeeping_freezes_after_a_while_and_reaps_after_the_idle_timeout() -> None:
    idle = [
        IdleView("fresh", EnvState.IDLE, idle_since=99.9, born=0.0),
        IdleView("settled", EnvState.IDLE, idle_since=98.0, born=0.0),
        IdleView("frozen", EnvState.FROZEN, idle_since=50.0, born=0.0),
        IdleView("old", EnvState.FROZEN, idle_since=0.0, born=0.0),
        IdleView("old-thawed", EnvState.IDLE, idle_since=0.0, born=0.0),
    ]
    plan = housekeeping(idle, now=100.0, freeze_after_s=1.0, idle_timeout_s=60.0, max_age_s=3600.0)
    assert plan.freeze == ("settled",)
    assert set(plan.reap) == {"old", "old-thawed"}
    assert plan.retire == ()


def test_housekeeping_retires_environments_past_their_maximum_age_however_recently_used() -> None:
    idle = [
        IdleView("young", EnvState.IDLE, idle_since=7199.5, born=3601.0),
        IdleView("aged", EnvState.IDLE, idle_since=7199.0, born=3600.0),
        IdleView("aged-and-idle", EnvState.FROZEN, idle_since=0.0, born=0.0),
    ]
    plan = housekeeping(idle, now=7200.0, freeze_after_s=1.0, idle_timeout_s=60.0, max_age_s=3600.0)
    assert set(plan.retire) == {"aged", "aged-and-idle"}
    assert plan.reap == () and plan.freeze == ()
