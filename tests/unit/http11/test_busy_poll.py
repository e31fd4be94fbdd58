"""BusyPoll keeps the loop polling (never sleeping) while a quick invocation is in flight, and only then."""

from __future__ import annotations

import asyncio

from lambkin.http11.busy_poll import BusyPoll


async def test_a_held_future_keeps_the_loop_polling_until_it_is_done() -> None:
    poll = BusyPoll(cap_s=0.5)
    answer = asyncio.get_running_loop().create_future()
    poll.hold(answer, 0.2)
    assert poll.polling
    asyncio.get_running_loop().call_later(0.05, answer.set_result, "ok")
    assert await answer == "ok"
    await asyncio.sleep(0.01)
    assert not poll.polling  # stopped as soon as the answer came, long before its window ends


async def test_polling_stops_when_the_window_passes() -> None:
    poll = BusyPoll(cap_s=0.5)
    never = asyncio.get_running_loop().create_future()
    poll.hold(never, 0.02)
    await asyncio.sleep(0.05)
    assert not poll.polling and not never.done()


async def test_invocations_slower_than_the_cap_never_poll() -> None:
    poll = BusyPoll(cap_s=0.001)
    slow = asyncio.get_running_loop().create_future()
    poll.hold(slow, 0.01)  # expected to take 10 ms: sleeping costs nothing next to that
    assert not poll.polling
    poll.hold(slow, 0)
    assert not poll.polling


async def test_several_holds_share_one_polling_callback() -> None:
    poll = BusyPoll(cap_s=0.5)
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
