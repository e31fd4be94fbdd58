"""The log store when the disk refuses a write: nothing raises, the loss is noted, every line stays whole."""

from __future__ import annotations

from pathlib import Path

from lambkin.logs.store import LogStore


def messages(store: LogStore) -> list[str]:
    store.flush()
    return [event.message for event in store.events("g", "s")]


def test_writes_the_disk_refuses_are_dropped_then_noted_once_there_is_room(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    stream = tmp_path / "g" / "s.jsonl"
    stream.parent.mkdir()
    stream.symlink_to("/dev/full")  # every write: ENOSPC

    for index in range(3):
        store.append("g", "s", f"lost {index}")
    store.flush()  # the failure stays in the store
    store.append("g", "s", "lost 3")  # opened again: still no room
    store.flush()
    stream.unlink()
    store.append("g", "s", "kept")

    assert messages(store) == ["lambkin: up to 4 log lines were lost here (No space left on device)", "kept"]
    store.append("g", "s", "later")
    assert messages(store)[1:] == ["kept", "later"]  # noted once
    store.close()


def test_a_torn_last_line_is_cut_when_the_stream_is_opened_again(tmp_path: Path) -> None:
    stream = tmp_path / "g" / "s.jsonl"
    stream.parent.mkdir()
    stream.write_text('{"t": 1, "m": "whole", "i": 1}\n{"t": 2, "m": "cut off by a full di')
    store = LogStore(tmp_path)

    store.append("g", "s", "next")

    assert messages(store) == ["whole", "next"]
    store.close()
