"""One timer for a run of deadlines (lambkin/watchdog.py), on a real event loop."""

from __future__ import annotations

import asyncio

from lambkin.watchdog import Watchdog


async def test_a_timer_armed_for_an_earlier_deadline_re_arms_for_the_one_in_flight() -> None:
    loop = asyncio.get_running_loop()
    expired = asyncio.Event()
    dog = Watchdog(loop, expired.set)
    start = loop.time()
    dog.arm(start + 0.05)  # an exchange answered quickly: its timer stays armed
    dog.arm(start + 1.0)  # the next one's deadline is later
    await asyncio.sleep(0.3)
    assert not expired.is_set()  # fired at 0.05, found 1.0 in flight, armed again
    await asyncio.wait_for(expired.wait(), 5)
    assert loop.time() >= start + 1.0 - 0.001


async def test_a_shorter_deadline_than_the_timer_armed_is_kept_and_cancel_ends_it() -> None:
    loop = asyncio.get_running_loop()
    expired = asyncio.Event()
    dog = Watchdog(loop, expired.set)
    dog.arm(loop.time() + 60)
    dog.arm(loop.time() + 0.05)
    await asyncio.wait_for(expired.wait(), 5)  # not after 60 s
    expired.clear()
    dog.arm(loop.time() + 0.05)
    dog.cancel()
    await asyncio.sleep(0.2)
    assert not expired.is_set()
