"""The provisioned-concurrency keeper rides out a database outage with one line a tick, no traceback, and
goes on ticking; news of a config changed on any node makes it tick at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from lambkin.functions.provisioned import TOPIC
from lambkin.invoke.provisioning import ProvisionedKeeper
from lambkin.store import StoreUnavailable
from lambkin.testing.bus import FakeBus


async def test_an_outage_is_one_warning_a_tick_and_the_keeper_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = 0
    third = asyncio.Event()

    class Keeper(ProvisionedKeeper):
        async def tick(self) -> None:
            nonlocal ticks
            ticks += 1
            if ticks == 3:
                third.set()
            raise StoreUnavailable("the connection to it was lost")

    none: Any = None
    keeper = Keeper(none, none, none, interval_s=0)
    with caplog.at_level(logging.WARNING, logger="lambkin.invoke.provisioning"):
        task = asyncio.create_task(keeper.run())
        await asyncio.wait_for(third.wait(), timeout=30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ticks >= 3
    outage = [r for r in caplog.records if "waits for the database" in r.getMessage()]
    assert len(outage) >= 2 and all(r.exc_info is None for r in outage)
    assert "the connection to it was lost" in outage[0].getMessage()


async def test_news_of_a_config_changed_on_any_node_ticks_at_once() -> None:
    ticks = 0
    first, second = asyncio.Event(), asyncio.Event()
    bus = FakeBus()

    class Keeper(ProvisionedKeeper):
        async def tick(self) -> None:
            nonlocal ticks
            ticks += 1
            (first if ticks == 1 else second).set()

    none: Any = None
    keeper = Keeper(none, none, none, interval_s=3600, bus=bus)
    task = asyncio.create_task(keeper.run())
    try:
        await asyncio.wait_for(first.wait(), timeout=30)
        bus.announce(none, TOPIC, "fn")
        bus.deliver()
        await asyncio.wait_for(second.wait(), timeout=30)  # not the hour's interval
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
