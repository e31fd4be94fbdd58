"""BusyPoll keeps the loop polling (never sleeping) while a quick invocation is in flight, and only then,
and gives up as soon as another thread wants the core; its Trial keeps polling only where it shortens waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from lambkin.http11.busy_poll import BusyPoll, Trial
from lambkin.http11.connection import Connection
from lambkin.http11.exchange import Reply, Request


def _idle_core() -> None:
    """A yield that finds nobody else waiting for the core (the real one depends on the machine's load)."""


async def test_a_held_future_keeps_the_loop_polling_until_it_is_done() -> None:
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core, trial=_polling())
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert poll.polling
    asyncio.get_running_loop().call_later(0.05, answer.set_result, "ok")
    assert await answer == "ok"
    await asyncio.sleep(0.01)
    assert not poll.polling  # stopped as soon as the answer came, long before its window ends


async def test_polling_stops_when_the_window_passes() -> None:
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core, trial=_polling())
    never = asyncio.get_running_loop().create_future()
    poll.hold(never, 0.02)
    await asyncio.sleep(0.05)
    assert not poll.polling and not never.done()


async def test_invocations_slower_than_the_cap_never_poll() -> None:
    poll = BusyPoll(cap_s=0.001, yield_core=_idle_core, trial=_polling())
    slow = asyncio.get_running_loop().create_future()
    poll.hold(slow, 0.01)  # expected to take 10 ms: sleeping costs nothing next to that
    assert not poll.polling
    poll.hold(slow, 0)
    assert not poll.polling


async def test_several_holds_share_one_polling_callback() -> None:
    now = [0.0]  # the poll's clock stands still: no hold expires, no yield looks contended, however loaded
    poll = BusyPoll(cap_s=0.5, clock=lambda: now[0], yield_core=_idle_core, trial=_polling())
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    poll.hold(first, 0.2)
    poll.hold(second, 0.2)
    loop.call_later(0.02, first.set_result, None)
    await first
    assert poll.polling  # the second is still in flight
    second.set_result(None)
    await asyncio.sleep(0.01)
    assert not poll.polling


async def test_polling_stops_when_another_thread_wants_the_core() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def someone_else_runs() -> None:
        now[0] += 0.0005  # the yield gave the core away for half a millisecond

    poll = BusyPoll(cap_s=0.5, clock=clock, yield_core=someone_else_runs, trial=_polling())
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert poll.polling
    await asyncio.sleep(0)  # one turn of the loop: the spin yields, and finds the core was wanted
    await asyncio.sleep(0)
    assert not poll.polling and not answer.done()  # the loop sleeps now; the answer will wake it


# --- the trial: polling only where it pays ----------------------------------------------------------------


def _run_trial(trial: Trial, polled_cycle: float, slept_cycle: float) -> None:
    """Records cycles until the trial settles, each one as long as the way it was made in (the first cycle
    only starts it)."""
    while not trial.record(trial.epoch, polled_cycle if trial.polls() else slept_cycle):
        pass


def _polling() -> Trial:
    """A trial that found polling pays."""
    trial = Trial(block=2, skip=0)
    _run_trial(trial, polled_cycle=0.0001, slept_cycle=0.001)
    return trial


def test_until_a_quick_client_is_seen_holds_sleep() -> None:
    trial = Trial(block=1, skip=0)
    assert not trial.polls() and trial.polling_pays is None
    trial.record(trial.epoch, 0.001)  # the first cycle of a quick client: the trial begins, sleeping
    assert not trial.polls()
    trial.record(trial.epoch, 0.001)
    assert trial.polls()


def test_a_trial_is_blocks_sleeping_polling_sleeping_their_first_cycles_not_kept() -> None:
    trial = Trial(block=3, skip=1)
    trial.record(trial.epoch, 0.001)  # begins it
    ways = []
    # the first cycle of each block is its way settling; a drift (sleeping 0.003, then 0.002) weighs on both
    for cycle in (0.009, 0.003, 0.003, 0.009, 0.001, 0.001, 0.009, 0.002, 0.002):
        ways.append(trial.polls())
        trial.record(trial.epoch, cycle)
    assert ways == [False] * 3 + [True] * 3 + [False] * 3
    assert trial.medians == (0.001, 0.0025) and trial.polling_pays is True


def test_polling_is_kept_where_it_shortens_the_cycle() -> None:
    trial = Trial(block=8, skip=2, settle=100)
    _run_trial(trial, polled_cycle=0.0003, slept_cycle=0.0005)
    assert trial.polling_pays is True and trial.medians == (0.0003, 0.0005)
    assert trial.polls()


def test_sleeping_is_kept_where_polling_does_not_pay() -> None:
    trial = Trial(block=8, skip=2, settle=100)
    _run_trial(trial, polled_cycle=0.0006, slept_cycle=0.0005)  # the spin took the core the answer needed
    assert trial.polling_pays is False and not trial.polls()


def test_a_tie_goes_to_sleeping_since_polling_costs_a_core() -> None:
    trial = Trial(block=8, skip=2, margin=0.05)
    _run_trial(trial, polled_cycle=0.00097, slept_cycle=0.001)
    assert trial.polling_pays is False


def test_a_cycle_during_which_the_way_changed_is_not_counted() -> None:
    trial = Trial(block=1, skip=0)
    trial.record(trial.epoch, 0.001)  # begins it
    begun = trial.epoch
    trial.record(trial.epoch, 0.001)  # the sleeping block of one ends: polling now
    assert trial.polls()
    assert not trial.record(begun, 0.0001)  # begun sleeping, ended polling: neither way's
    assert trial.polling_pays is None


def test_the_verdict_is_tried_again_after_it_settled_so_many_cycles() -> None:
    trial = Trial(block=4, skip=1, settle=10)
    _run_trial(trial, polled_cycle=0.0005, slept_cycle=0.001)
    for _ in range(10):
        assert trial.polls()
        assert not trial.record(trial.epoch, 0.0005)
    _run_trial(trial, polled_cycle=0.002, slept_cycle=0.001)  # the machine got busy: now sleeping wins
    assert trial.polling_pays is False and not trial.polls()


def test_a_block_must_keep_some_of_its_cycles() -> None:
    with pytest.raises(ValueError, match="a block must keep some of its cycles"):
        Trial(block=4, skip=4)


async def test_where_polling_does_not_pay_the_loop_sleeps_through_every_hold() -> None:
    trial = Trial(block=8, skip=2)
    _run_trial(trial, polled_cycle=0.0015, slept_cycle=0.001)
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core, trial=trial)
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert not poll.polling
    answer.set_result(None)


# --- the next request of a quick client -------------------------------------------------------------------


class _Quick(Connection):
    """Answers every request at once, as a synchronous Invoke: the client's next request is polled for."""

    def head_received(self, request: Request) -> int:
        return 1 << 20

    def received(self, request: Request, reply: Reply) -> None:
        reply.poll_next = True
        reply.send(200, b"ok")


class _Slow(_Quick):
    """Answers as a throughput-bound request (an SQS batch, the control plane): nothing polled for."""

    def received(self, request: Request, reply: Reply) -> None:
        reply.send(200, b"ok")


class _Sink:
    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return None


def test_a_client_coming_back_within_a_millisecond_is_polled_for_on_uvloop() -> None:
    """uvloop's loop.time() counts whole milliseconds: the gap to the next request is timed finer."""
    now = [0.0]
    poll = BusyPoll(cap_s=0.001, clock=lambda: now[0], yield_core=_idle_core, trial=_polling())

    async def client_comes_back_in_200_us() -> bool:
        conn = _Quick(set(), poll=poll)
        conn.connection_made(_Sink())  # type: ignore[arg-type]
        conn.data_received(b"GET / HTTP/1.1\r\n\r\n")
        now[0] += 0.0002
        conn.data_received(b"GET / HTTP/1.1\r\n\r\n")  # its gap is known now: the next one is polled for
        return poll.polling

    assert uvloop.run(client_comes_back_in_200_us())


def _serve(kind: type[_Quick], trial: Trial, requests: int, cycle: Callable[[], float]) -> None:
    """A client that sends `requests` requests on one connection of `kind`, the next `cycle()` after each."""
    now = [0.0]
    poll = BusyPoll(cap_s=0.001, clock=lambda: now[0], yield_core=_idle_core, trial=trial)
    conn = kind(set(), poll=poll)
    conn.connection_made(_Sink())  # type: ignore[arg-type]
    for _ in range(requests):
        conn.data_received(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        now[0] += cycle()


async def test_a_quick_clients_cycles_are_what_the_trial_measures() -> None:
    trial = Trial(block=4, skip=1)
    _serve(_Quick, trial, 16, lambda: 0.0003 if trial.polls() else 0.0005)  # 300 us polling, 500 sleeping
    assert trial.polling_pays is True
    assert trial.medians == pytest.approx((0.0003, 0.0005))


async def test_a_request_that_is_not_latency_bound_begins_no_cycle() -> None:
    trial = Trial(block=2, skip=0)
    _serve(_Slow, trial, 10, lambda: 0.0003)
    assert trial.epoch == 0 and trial.polling_pays is None
