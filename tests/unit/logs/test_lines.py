"""Platform log lines, stream names, the log store and per-invocation tails."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from lambkin.logs import lines
from lambkin.logs.store import LogStore
from lambkin.logs.stream import EVENT_BYTES, TAIL_BYTES, LogStream


def test_report_line_exactly_as_lambda_writes_it() -> None:
    assert lines.report_line("abc", 12.344, 128, 18, init_duration_ms=120.551) == (
        "REPORT RequestId: abc\tDuration: 12.34 ms\tBilled Duration: 133 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 18 MB\tInit Duration: 120.55 ms\t"
    )
    assert lines.report_line("abc", 1.001, 256, 40) == (
        "REPORT RequestId: abc\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 40 MB\t"
    )


def test_start_end_timeout_and_stream_names() -> None:
    assert lines.start_line("id", "$LATEST") == "START RequestId: id Version: $LATEST"
    assert lines.end_line("id") == "END RequestId: id"
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    assert lines.timeout_line(now, "id", 3) == "2026-01-02T03:04:05.678Z id Task timed out after 3.00 seconds"
    assert lines.stream_name("$LATEST", now, "a" * 32) == "2026/01/02/[$LATEST]" + "a" * 32
    assert lines.megabytes(18 * 1024 * 1024 + 1) == 19


def test_stream_splits_output_into_lines_and_keeps_the_tail(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    stream = LogStream(store, "/aws/lambda/fn", "s1")
    stream.begin()
    sink = stream.sink(1)
    sink(b"hello ")
    sink(b"world\nsecond\n")
    stream.sink(2)(b"partial")
    stream.platform("END RequestId: x")
    tail = stream.end()
    assert tail.decode().splitlines() == ["hello world", "second", "END RequestId: x", "partial"]
    store.flush()
    assert [e.message for e in store.events("/aws/lambda/fn", "s1")] == [
        "hello world",
        "second",
        "END RequestId: x",
        "partial",
    ]
    stream.begin()
    for i in range(2000):
        stream.platform(f"line {i:05d}")
    tail = stream.end()
    assert len(tail) <= TAIL_BYTES
    assert tail.decode().endswith("line 01999\n")
    store.close()


def test_store_lists_groups_streams_and_filters(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append("/aws/lambda/a", "2026/01/01/[$LATEST]x", "one", 1000)
    store.append("/aws/lambda/a", "2026/01/01/[$LATEST]y", "two", 2000)
    store.append("/aws/lambda/b", "s", "three", 3000)
    store.flush()
    assert store.groups() == ["/aws/lambda/a", "/aws/lambda/b"]
    assert {name for name, _ in store.streams("/aws/lambda/a")} == {
        "2026/01/01/[$LATEST]x",
        "2026/01/01/[$LATEST]y",
    }
    assert [e.message for e in store.events("/aws/lambda/a")] == ["one", "two"]
    assert [e.message for e in store.events("/aws/lambda/a", start_ms=1500)] == ["two"]
    assert [e.message for e in store.events("/aws/lambda/a", contains="on")] == ["one"]
    store.close()
    assert store.expire(now=10**12) == 3
    assert store.groups() == ["/aws/lambda/a", "/aws/lambda/b"]


def test_store_lines_are_the_json_of_their_event(tmp_path: Path) -> None:
    messages = ["plain", 'quote " and \\ back', "tab\tand\x01control", "ünïcode ✓ \u2028", ""]
    store = LogStore(tmp_path)
    for at, message in enumerate(messages, 1):
        store.append("g", "s", message, at)
    store.close()
    written = (tmp_path / "g" / "s.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert written == [
        json.dumps({"t": at, "m": message, "i": json.loads(line)["i"]}, ensure_ascii=False)
        for at, (message, line) in enumerate(zip(messages, written, strict=True), 1)
    ]


def test_a_line_longer_than_an_event_is_split_into_events(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    stream = LogStream(store, "/aws/lambda/fn", "s1")
    sink = stream.sink(1)
    line = b"".join(b"%09d" % i for i in range(70_000))  # 630,000 bytes: three events, the last shorter
    for start in range(0, len(line), 65536):
        sink(line[start : start + 65536])
    sink(b"\nshort\n")
    sink(b"y" * (EVENT_BYTES + 5))  # no end of line yet: a full event goes at once
    stream.end()
    store.flush()
    messages = [e.message for e in store.events("/aws/lambda/fn", "s1")]
    assert [len(m) for m in messages] == [
        EVENT_BYTES,
        EVENT_BYTES,
        len(line) - 2 * EVENT_BYTES,
        5,
        EVENT_BYTES,
        5,
    ]
    assert "".join(messages[:3]).encode() == line and messages[3] == "short"
    store.close()
