"""Pool decisions: how many cold starts, which may init now, which idle environments to freeze and to reap."""

from __future__ import annotations

from lambkin.environments.lifecycle import EnvState
from lambkin.environments.scaling import (
    IdleView,
    InitLoad,
    StartVerdict,
    admit_start,
    housekeeping,
    next_start,
    starts_to_launch,
)


def test_one_start_per_waiting_caller_nobody_starts_for() -> None:
    assert starts_to_launch(waiting=5, starting=0) == 5
    assert starts_to_launch(waiting=5, starting=2) == 3
    assert starts_to_launch(waiting=1, starting=1) == 0
    assert starts_to_launch(waiting=0, starting=0) == 0
    assert starts_to_launch(waiting=1, starting=3) == 0


def load(initializing: int = 0, queued_before: int = 0, unserved: int | None = 1, slots: int = 2) -> InitLoad:
    return InitLoad(initializing=initializing, slots=slots, queued_before=queued_before, unserved=unserved)


def test_a_start_begins_its_init_in_a_free_slot() -> None:
    assert admit_start(load(initializing=0)) is StartVerdict.BEGIN
    assert admit_start(load(initializing=1)) is StartVerdict.BEGIN


def test_inits_never_outnumber_the_slots() -> None:
    assert admit_start(load(initializing=2)) is StartVerdict.WAIT
    assert admit_start(load(initializing=5)) is StartVerdict.WAIT
    assert admit_start(load(initializing=0, slots=1, unserved=40)) is StartVerdict.BEGIN
    assert admit_start(load(initializing=1, slots=1, unserved=40)) is StartVerdict.WAIT


def test_a_start_never_passes_the_starts_queued_before_it() -> None:
    assert admit_start(load(initializing=0, queued_before=1)) is StartVerdict.WAIT
    assert admit_start(load(initializing=1, queued_before=3, unserved=None)) is StartVerdict.WAIT


def test_a_start_whose_callers_were_all_served_is_dropped() -> None:
    assert admit_start(load(unserved=0)) is StartVerdict.DROP
    assert admit_start(load(unserved=-1, initializing=5)) is StartVerdict.DROP
    assert admit_start(load(unserved=0, queued_before=4)) is StartVerdict.DROP


def test_a_provisioned_start_serves_no_caller_and_is_never_dropped() -> None:
    assert admit_start(load(unserved=None)) is StartVerdict.BEGIN
    assert admit_start(load(unserved=None, initializing=2)) is StartVerdict.WAIT


def test_a_freed_slot_goes_to_the_longest_queued_start_of_the_least_busy_function() -> None:
    assert next_start([], {}) is None
    assert next_start(["a", "a", "b"], {}) == 0
    assert next_start(["a", "a", "b"], {"a": 1}) == 2
    assert next_start(["a", "b", "c", "b"], {"a": 2, "b": 1}) == 2
    assert next_start(["a", "b"], {"a": 1, "b": 1}) == 0


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
