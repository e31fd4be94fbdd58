"""BusyPoll keeps the loop polling (never sleeping) while a quick invocation is in flight, and only then,
and gives up as soon as another thread wants the core; its Trial keeps polling only where it shortens waits."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from lambkin.http11.busy_poll import BusyPoll, Trial
from lambkin.http11.connection import Connection
from lambkin.http11.exchange import Reply, Request


def _idle_core() -> None:
    """A yield that finds nobody else waiting for the core (the real one depends on the machine's load)."""


async def test_a_held_future_keeps_the_loop_polling_until_it_is_done() -> None:
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core)
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert poll.polling
    asyncio.get_running_loop().call_later(0.05, answer.set_result, "ok")
    assert await answer == "ok"
    await asyncio.sleep(0.01)
    assert not poll.polling  # stopped as soon as the answer came, long before its window ends


async def test_polling_stops_when_the_window_passes() -> None:
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core)
    never = asyncio.get_running_loop().create_future()
    poll.hold(never, 0.02)
    await asyncio.sleep(0.05)
    assert not poll.polling and not never.done()


async def test_invocations_slower_than_the_cap_never_poll() -> None:
    poll = BusyPoll(cap_s=0.001, yield_core=_idle_core)
    slow = asyncio.get_running_loop().create_future()
    poll.hold(slow, 0.01)  # expected to take 10 ms: sleeping costs nothing next to that
    assert not poll.polling
    poll.hold(slow, 0)
    assert not poll.polling


async def test_several_holds_share_one_polling_callback() -> None:
    now = [0.0]  # the poll's clock stands still: no hold expires, no yield looks contended, however loaded
    poll = BusyPoll(cap_s=0.5, clock=lambda: now[0], yield_core=_idle_core)
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

    poll = BusyPoll(cap_s=0.5, clock=clock, yield_core=someone_else_runs)
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert poll.polling
    await asyncio.sleep(0)  # one turn of the loop: the spin yields, and finds the core was wanted
    await asyncio.sleep(0)
    assert not poll.polling and not answer.done()  # the loop sleeps now; the answer will wake it


# --- the trial: polling only where it pays ----------------------------------------------------------------


def _run_trial(trial: Trial, polled_wait: float, slept_wait: float) -> None:
    """Gives out holds until the trial settles, each one waiting as long as its way does."""
    while True:
        poll, measure = trial.next_hold()
        assert measure
        if trial.record(poll, polled_wait if poll else slept_wait):
            return


def test_a_trial_alternates_blocks_of_polling_and_sleeping_holds_and_measures_each() -> None:
    trial = Trial(block=2, samples=3)
    ways = [trial.next_hold() for _ in range(6)]
    assert ways == [(True, True), (True, True), (False, True), (False, True), (True, True), (True, True)]
    assert trial.polling_pays is None  # nothing recorded: no verdict


def test_polling_is_kept_where_it_shortens_the_wait() -> None:
    trial = Trial(block=4, samples=8, settle=100)
    _run_trial(trial, polled_wait=0.6, slept_wait=1.0)
    assert trial.polling_pays is True and trial.medians == (0.6, 1.0)
    assert {trial.next_hold() for _ in range(50)} == {(True, False)}  # settled: every hold polls, unmeasured


def test_sleeping_is_kept_where_polling_does_not_pay() -> None:
    trial = Trial(block=4, samples=8, settle=100)
    _run_trial(trial, polled_wait=1.2, slept_wait=1.0)  # the spin took the core the answer needed
    assert trial.polling_pays is False
    assert {trial.next_hold() for _ in range(50)} == {(False, False)}


def test_a_tie_goes_to_sleeping_since_polling_costs_a_core() -> None:
    trial = Trial(block=4, samples=8, margin=0.05)
    _run_trial(trial, polled_wait=0.97, slept_wait=1.0)
    assert trial.polling_pays is False


def test_the_verdict_is_tried_again_after_it_settled_so_many_holds() -> None:
    trial = Trial(block=2, samples=4, settle=10)
    _run_trial(trial, polled_wait=0.5, slept_wait=1.0)
    for _ in range(10):
        assert trial.next_hold() == (True, False)
    assert trial.next_hold() == (True, True)  # a new trial, measured again
    assert not trial.record(False, 9.0)
    _run_trial(trial, polled_wait=2.0, slept_wait=1.0)  # the machine got busy: now sleeping wins
    assert trial.polling_pays is False


def test_a_late_answer_after_the_verdict_is_not_counted() -> None:
    trial = Trial(block=2, samples=2, settle=10)
    _run_trial(trial, polled_wait=0.5, slept_wait=1.0)
    assert not trial.record(False, 0.01)
    assert trial.polling_pays is True


async def test_each_hold_of_a_trial_records_its_wait_as_a_multiple_of_the_expected_one() -> None:
    now = [0.0]
    trial = Trial(block=1, samples=1)
    poll = BusyPoll(cap_s=0.5, clock=lambda: now[0], yield_core=_idle_core, trial=trial)
    loop = asyncio.get_running_loop()
    polled, slept = loop.create_future(), loop.create_future()
    poll.hold(polled, 0.002)  # the first block polls
    assert poll.polling
    now[0] = 0.001
    polled.set_result(None)
    await asyncio.sleep(0)
    poll.hold(slept, 0.002)  # the second sleeps
    now[0] = 0.005
    slept.set_result(None)
    await asyncio.sleep(0)
    assert trial.medians == (0.5, 2.0) and trial.polling_pays is True


async def test_where_polling_does_not_pay_the_loop_sleeps_through_every_hold() -> None:
    trial = Trial(block=4, samples=8)
    _run_trial(trial, polled_wait=1.5, slept_wait=1.0)
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


class _Sink:
    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return None


def test_a_client_coming_back_within_a_millisecond_is_polled_for_on_uvloop() -> None:
    """uvloop's loop.time() counts whole milliseconds: the gap to the next request is timed finer."""
    now = [0.0]
    poll = BusyPoll(cap_s=0.001, clock=lambda: now[0], yield_core=_idle_core)

    async def client_comes_back_in_200_us() -> bool:
        conn = _Quick(set(), poll=poll)
        conn.connection_made(_Sink())  # type: ignore[arg-type]
        conn.data_received(b"GET / HTTP/1.1\r\n\r\n")
        now[0] += 0.0002
        conn.data_received(b"GET / HTTP/1.1\r\n\r\n")  # its gap is known now: the next one is polled for
        return poll.polling

    assert uvloop.run(client_comes_back_in_200_us())
