"""InvokeWithResponseStream's events for an outcome the Invoker returned whole: PayloadChunk events of the
payload (none for a function error), then InvokeComplete. A module of its own: the Invoke handlers' module is
compiled (lambkin.compiled), and an async generator is not something mypyc compiles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lambkin.environments.results import FunctionError, Outcome

STREAM_CHUNK_BYTES = 64 * 1024  # a buffered response is streamed back in PayloadChunk events of this size


async def response_stream_events(outcome: Outcome, complete: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    if not isinstance(outcome, FunctionError):
        for start in range(0, len(outcome.payload), STREAM_CHUNK_BYTES):
            yield {"PayloadChunk": {"Payload": outcome.payload[start : start + STREAM_CHUNK_BYTES]}}
    yield {"InvokeComplete": complete}
