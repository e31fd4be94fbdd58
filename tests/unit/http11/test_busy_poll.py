"""BusyPoll keeps the loop polling (never sleeping) while a quick invocation is in flight, and only then,
and gives up as soon as another thread wants the core."""

from __future__ import annotations

import asyncio

from lambkin.http11.busy_poll import BusyPoll


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
    poll = BusyPoll(cap_s=0.5, yield_core=_idle_core)
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
