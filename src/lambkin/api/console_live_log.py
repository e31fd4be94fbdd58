"""The console's live log: a function's log group as server-sent events, one `data:` event per new line.

A stream starts where its reader left off, never at the moment it happens to connect, so a line written
between the page's rendering and the stream's start, or between one stream and the next, is not lost:

    GET /console/functions/NAME/logs/stream?after=T       the page's first stream: lines from time T (ms),
                                                          the time the page was rendered
    Last-Event-ID: T:EVENT                                 a reconnect: lines from T, EVENT (the last line
                                                          shown) skipped (another line of that millisecond
                                                          may show twice: never one lost)

Each event carries `id: T:EVENT` (its timestamp and eventId), which the browser's EventSource sends back as
Last-Event-ID when it reconnects by itself after a stream ends; a page script that opens a new stream
passes the last one as `after` (api/console_static/logs.js).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambkin.api.asgi import Send

POLL_S = 1.0
STREAM_S = 600.0  # a stream ends after this; the browser opens another, from where this one ended
RETRY_MS = 2000  # how long the browser waits before it opens the next stream

Filter = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]  # FilterLogEvents as the reader


def now_ms() -> int:
    return int(time.time() * 1000)


def resume_point(last_event_id: str | None, after: str | None, now: int) -> tuple[int, str | None]:
    """Where a stream starts: (time in ms, the eventId last shown there or None), from the reconnect's
    Last-Event-ID, else the page's `after`, else `now`; a malformed one counts as absent."""
    for mark in (last_event_id, after):
        if not mark:
            continue
        at, _, event = mark.partition(":")
        if at.isdigit():
            return min(int(at), now), event or None
    return now, None


def event_id(event: Mapping[str, Any]) -> str:
    return f"{int(event['timestamp'])}:{event['eventId']}"


async def stream(read: Filter, group: str, start: tuple[int, str | None], send: Send) -> None:
    """Sends each line of `group` written from `start` on, polling every POLL_S for STREAM_S."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(), "more_body": True})
    since, last = start
    seen: set[str] = {last} if last else set()  # the eventIds sent of millisecond `since`, the only ones
    # FilterLogEvents (from `since` on) can answer again
    ends = time.monotonic() + STREAM_S
    while time.monotonic() < ends:
        found = await read({"logGroupName": group, "startTime": since})
        chunk = b""
        for event in (found or {}).get("events", []):
            if event["eventId"] in seen:
                continue
            at = int(event["timestamp"])
            if at > since:
                since, seen = at, set()
            seen.add(event["eventId"])
            data = json.dumps(event["message"])
            chunk += f"id: {event_id(event)}\ndata: {data}\n\n".encode()
        await send({"type": "http.response.body", "body": chunk or b": waiting\n\n", "more_body": True})
        await asyncio.sleep(POLL_S)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
