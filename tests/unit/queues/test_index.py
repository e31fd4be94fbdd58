"""The in-memory index: standard queues by visibility, FIFO queues by group with one batch in flight."""

from __future__ import annotations

from dataclasses import replace

from lambkin.queues.index import QueueIndex
from lambkin.queues.lifecycle import MessageMeta, received

NOW = 1000.0


def put(index: QueueIndex, seq: int, group: str | None = None, visible_at: float = NOW) -> MessageMeta:
    meta = MessageMeta(f"m{seq}", "q", seq, sent_at=NOW, visible_at=visible_at, group_id=group)
    index.put(meta)
    return meta


def test_standard_returns_visible_in_order_and_skips_hidden() -> None:
    index = QueueIndex(fifo=False)
    put(index, 1)
    put(index, 2, visible_at=NOW + 10)
    put(index, 3)
    assert [m.message_id for m in index.visible(NOW)] == ["m1", "m3"]
    counts = index.counts(NOW)
    assert (counts.visible, counts.in_flight, counts.delayed) == (2, 0, 1)
    assert index.next_visible_at(NOW) == NOW + 10


def test_standard_taking_updates_do_not_repeat_a_message() -> None:
    index = QueueIndex(fifo=False)
    first = put(index, 1)
    taken = []
    for meta in index.visible(NOW):
        taken.append(meta.message_id)
        index.put(received(meta, NOW, 0, "t"))  # visibility 0: visible again at once
    assert taken == ["m1"]
    assert [m.message_id for m in index.visible(NOW)] == [first.message_id]


def test_fifo_locks_a_group_while_a_message_is_in_flight() -> None:
    index = QueueIndex(fifo=True)
    for seq, group in [(1, "a"), (2, "a"), (3, "b"), (4, "a")]:
        put(index, seq, group)
    assert [m.message_id for m in index.visible(NOW)] == ["m1", "m2", "m4", "m3"]
    index.put(received(index.messages["m1"], NOW, 30, "t"))
    assert [m.message_id for m in index.visible(NOW)] == ["m3"]
    index.remove("m1")
    assert [m.message_id for m in index.visible(NOW)] == ["m2", "m4", "m3"]


def test_fifo_group_stops_at_a_delayed_message() -> None:
    index = QueueIndex(fifo=True)
    put(index, 1, "a")
    put(index, 2, "a", visible_at=NOW + 5)
    put(index, 3, "a")
    assert [m.message_id for m in index.visible(NOW)] == ["m1"]


def test_standard_message_visible_again_comes_before_newer_ones() -> None:
    index = QueueIndex(fifo=False)
    first = put(index, 1)
    index.put(received(first, NOW, 30, "t"))
    put(index, 2)
    assert [m.message_id for m in index.visible(NOW + 30)] == ["m1", "m2"]


def take(index: QueueIndex, n: int, timeout: int) -> list[str]:
    """What a receive of `n` takes, hiding each for `timeout` seconds."""
    taken = []
    for meta in index.visible(NOW):
        index.put(received(meta, NOW, timeout, "t"))
        taken.append(meta.message_id)
        if len(taken) == n:
            break
    return taken


def test_fifo_groups_take_turns_and_an_in_flight_message_holds_back_the_rest_of_its_group() -> None:
    index = QueueIndex(fifo=True)
    for seq, group in [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "c")]:
        put(index, seq, group)
    assert take(index, 2, 30) == ["m1", "m2"]  # group a served: behind b and c now
    index.put(replace(index.messages["m1"], visible_at=NOW))  # m1 visible again, m2 still in flight
    assert take(index, 10, 30) == ["m4", "m5", "m1"]
    index.put(replace(index.messages["m2"], visible_at=NOW))  # m1 in flight: a gives nothing
    assert [m.message_id for m in index.visible(NOW)] == []
