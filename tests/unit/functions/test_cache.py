"""ReadCache keeps a read only if no write of that function finished while it was under way, and drops it on
the next write of that function (of one in its span, for a read across functions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.functions.cache import ALL, TOPIC, ReadCache
from lambkin.store import Connection, Store
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.bus import FakeBus


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    database = SqliteStore(tmp_path / "test.db")
    yield database
    database.close()


def test_a_read_racing_a_write_is_not_kept() -> None:
    cache = ReadCache()
    generation = cache.generation("fn")
    cache.invalidate("fn")  # a write committed while the read was in flight
    cache.put("fn", "$LATEST", "stale", generation)
    assert cache.get("fn", "$LATEST") is None


def test_writes_drop_what_was_cached() -> None:
    cache = ReadCache()
    cache.put("fn", "$LATEST", "v1", cache.generation("fn"))
    cache.put("other", "$LATEST", "o1", cache.generation("other"))
    assert cache.get("fn", "$LATEST") == "v1"
    cache.invalidate("fn")
    assert cache.get("fn", "$LATEST") is None
    assert cache.get("other", "$LATEST") == "o1"


def test_a_write_to_any_function_drops_a_listing_kept_without_a_span() -> None:
    cache = ReadCache()
    cache.put(ALL, "page 1", ["fn", "other"], cache.generation(ALL))
    cache.put("other", "$LATEST", "o1", cache.generation("other"))
    generation = cache.generation(ALL)
    cache.invalidate("fn")
    assert cache.get(ALL, "page 1") is None
    assert cache.get("other", "$LATEST") == "o1"
    cache.put(ALL, "page 1", "stale", generation)  # read before that write finished
    assert cache.get(ALL, "page 1") is None


def test_a_write_drops_the_listings_whose_span_holds_its_name_and_no_other() -> None:
    cache = ReadCache()
    spans = {"p1": ("", "c"), "p2": ("c", "f"), "p3": ("f", None)}
    for key, span in spans.items():
        cache.put(ALL, key, key, cache.generation(ALL), span)
    cache.invalidate("d")
    assert [cache.get(ALL, key) for key in spans] == ["p1", None, "p3"]
    cache.invalidate("c")  # both ends belong to the span
    assert [cache.get(ALL, key) for key in spans] == [None, None, "p3"]
    cache.invalidate("zz")  # a span without a last name holds every name from its first on
    assert [cache.get(ALL, key) for key in spans] == [None, None, None]


def test_a_listing_read_while_any_function_was_written_is_not_kept() -> None:
    cache = ReadCache()
    generation = cache.generation(ALL)
    cache.invalidate("zz")
    cache.put(ALL, "p1", "maybe stale", generation, ("", "c"))
    assert cache.get(ALL, "p1") is None


async def test_a_write_invalidates_even_when_it_fails(db: Store) -> None:
    cache = ReadCache()
    cache.put("fn", "k", "v", cache.generation("fn"))

    def failing(conn: Connection) -> None:
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await cache.write(db, "fn", failing)
    assert cache.get("fn", "k") is None


async def test_a_write_announces_its_function_to_the_other_nodes(db: Store) -> None:
    bus = FakeBus()
    here, there = ReadCache(bus), ReadCache(bus)
    there.put("fn", "k", "old", there.generation("fn"))
    there.put("other", "k", "o", there.generation("other"))
    assert await here.write(db, "fn", lambda conn: "done") == "done"
    assert bus.deliver() == [(TOPIC, "fn")]
    assert there.get("fn", "k") is None
    assert there.get("other", "k") == "o"


def test_news_of_a_write_elsewhere_keeps_a_read_under_way_from_being_kept() -> None:
    bus = FakeBus()
    cache = ReadCache(bus)
    generation = cache.generation("fn")
    cache.changed("fn")  # another node's write committed while this read was in flight
    cache.put("fn", "k", "stale", generation)
    assert cache.get("fn", "k") is None


def test_everything_drops_every_entry_and_every_read_under_way() -> None:
    bus = FakeBus()
    cache = ReadCache(bus)
    cache.put("fn", "k", "v", cache.generation("fn"))
    cache.put(ALL, "page", "p", cache.generation(ALL), ("a", "z"))
    under_way = cache.generation("never-written")
    bus.lost()
    assert cache.get("fn", "k") is None
    assert cache.get(ALL, "page") is None
    cache.put("never-written", "k", "stale", under_way)
    assert cache.get("never-written", "k") is None
    cache.put("fn", "k", "fresh", cache.generation("fn"))
    assert cache.get("fn", "k") == "fresh"
