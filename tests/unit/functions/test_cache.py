"""ReadCache keeps a read only if no write of that function finished while it was under way, and drops it on
the next write of that function (of one in its span, for a read across functions)."""

from __future__ import annotations

import pytest

from lambkin.functions.cache import ALL, ReadCache


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


async def test_written_invalidates_even_when_the_write_fails() -> None:
    cache = ReadCache()
    cache.put("fn", "k", "v", cache.generation("fn"))

    async def failing() -> None:
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await cache.written("fn", failing())
    assert cache.get("fn", "k") is None
