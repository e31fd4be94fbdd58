"""Refresh gathers the bus's keys of its topic and hands them to one reload a round: a burst is one read,
news during a reload is the next round's, "*" reloads everything, and a database outage keeps the keys."""

from __future__ import annotations

import asyncio
import logging

import pytest

from lambkin.cluster.refresh import Refresh
from lambkin.store import StoreUnavailable
from lambkin.testing.bus import FakeBus


class Reloads:
    def __init__(self) -> None:
        self.calls: list[frozenset[str] | None] = []
        self.failures: list[Exception] = []

    async def __call__(self, keys: frozenset[str] | None) -> None:
        self.calls.append(keys)
        if self.failures:
            raise self.failures.pop(0)


async def test_a_burst_of_news_is_one_reload_of_its_keys() -> None:
    bus, reloads = FakeBus(), Reloads()
    refresh = Refresh(bus, "things", reloads)
    for key in ("a", "b", "a"):
        refresh.changed(key)
    await refresh.step()
    assert reloads.calls == [frozenset({"a", "b"})]
    await refresh.step()  # nothing new: nothing read
    assert len(reloads.calls) == 1


async def test_only_its_own_topic_reaches_it() -> None:
    bus, reloads = FakeBus(), Reloads()
    refresh = Refresh(bus, "things", reloads)
    bus.announce(None, "things", "a")  # type: ignore[arg-type]
    bus.announce(None, "others", "b")  # type: ignore[arg-type]
    bus.deliver()
    await refresh.step()
    assert reloads.calls == [frozenset({"a"})]


async def test_everything_after_lost_news_is_one_reload_of_all() -> None:
    bus, reloads = FakeBus(), Reloads()
    refresh = Refresh(bus, "things", reloads)
    refresh.changed("a")
    bus.lost()
    await refresh.step()
    assert reloads.calls == [None]


async def test_news_arriving_during_a_reload_is_read_in_the_next_round() -> None:
    bus = FakeBus()
    calls: list[frozenset[str] | None] = []
    refresh: Refresh

    async def reload(keys: frozenset[str] | None) -> None:
        calls.append(keys)
        if len(calls) == 1:
            refresh.changed("late")  # committed elsewhere while this round reads

    refresh = Refresh(bus, "things", reload)
    refresh.changed("early")
    task = asyncio.create_task(refresh.run())
    try:
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0)
    finally:
        task.cancel()
    assert calls == [frozenset({"early"}), frozenset({"late"})]


async def test_a_database_outage_keeps_the_keys_for_the_next_try(caplog: pytest.LogCaptureFixture) -> None:
    bus, reloads = FakeBus(), Reloads()
    reloads.failures.append(StoreUnavailable("the connection to it was lost"))
    refresh = Refresh(bus, "things", reloads, retry_s=0)
    refresh.changed("a")
    with caplog.at_level(logging.WARNING, logger="lambkin.cluster"):
        await refresh.step()
    assert refresh.pending
    refresh.changed("b")
    await refresh.step()
    assert reloads.calls == [frozenset({"a"}), frozenset({"a", "b"})]
    assert not refresh.pending
    assert "waits for the database" in caplog.text


async def test_a_fault_of_the_reload_is_logged_and_its_keys_dropped(caplog: pytest.LogCaptureFixture) -> None:
    bus, reloads = FakeBus(), Reloads()
    reloads.failures.append(ValueError("not an entity"))
    refresh = Refresh(bus, "things", reloads)
    refresh.changed("a")
    with caplog.at_level(logging.ERROR, logger="lambkin.cluster"):
        await refresh.step()
    assert not refresh.pending
    assert "reloading things failed" in caplog.text
