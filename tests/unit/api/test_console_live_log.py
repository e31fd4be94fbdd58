"""The console's live log stream: where it starts (the page's time, a reconnect's last event) and what it
sends (each line once, with the id a reconnect resumes from); FilterLogEvents is a fake of the log group."""

from __future__ import annotations

from typing import Any

import pytest

from lambkin.api import console_live_log as live_log


def test_a_reconnect_resumes_from_its_last_event_before_the_pages_time() -> None:
    assert live_log.resume_point("1700:abc", "1500", now=2000) == (1700, "abc")
    assert live_log.resume_point(None, "1500", now=2000) == (1500, None)
    assert live_log.resume_point(None, None, now=2000) == (2000, None)


def test_a_malformed_or_future_resume_point_is_not_trusted() -> None:
    assert live_log.resume_point("soon:x", "-5", now=2000) == (2000, None)
    assert live_log.resume_point(None, "99999", now=2000) == (2000, None)


class LogGroup:
    """FilterLogEvents over a list of events: those from startTime on, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.asked: list[int] = []

    def write(self, at: int, event_id: str, message: str) -> None:
        self.events.append({"timestamp": at, "eventId": event_id, "message": message})

    async def read(self, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(params["startTime"])
        return {"events": [e for e in self.events if e["timestamp"] >= params["startTime"]]}


class Hung(Exception):
    """The reader went away: ends the stream."""


async def sent_by(group: LogGroup, start: tuple[int, str | None], polls: int) -> str:
    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            if len(group.asked) >= polls:  # ends the stream after `polls` reads
                raise Hung

    with pytest.raises(Hung):
        await live_log.stream(group.read, "/aws/lambda/f", start, send)
    return b"".join(bodies).decode()


async def test_each_line_from_the_start_is_sent_once_with_its_resume_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_log, "POLL_S", 0)
    group = LogGroup()
    group.write(900, "old", "before the page")
    group.write(1000, "a", "written as the page rendered")
    group.write(1000, "b", "the same millisecond")
    group.write(1200, "c", "later")
    text = await sent_by(group, (1000, None), polls=3)
    assert "before the page" not in text
    for event_id, message in (("1000:a", "written"), ("1000:b", "the same"), ("1200:c", "later")):
        assert text.count(f"id: {event_id}\ndata: ") == 1 and message in text
    assert text.startswith("retry: ")
    assert group.asked == [1000, 1200, 1200]  # it reads on from the last line it sent


async def test_a_resumed_stream_skips_the_last_line_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_log, "POLL_S", 0)
    group = LogGroup()
    group.write(1000, "a", "shown before")
    group.write(1000, "b", "not yet shown")
    text = await sent_by(group, (1000, "a"), polls=1)
    assert "shown before" not in text and 'id: 1000:b\ndata: "not yet shown"' in text
