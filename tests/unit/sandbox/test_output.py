"""PipeReader: a pipe drained by the event loop into a sink, closed at end of file."""

from __future__ import annotations

import asyncio
import os

from lambkin.sandbox.output import PipeReader


async def test_chunks_reach_the_sink_and_eof_closes_the_pipe() -> None:
    read_end, write_end = os.pipe()
    chunks: list[bytes] = []
    arrived = asyncio.Event()

    def sink(chunk: bytes) -> None:
        chunks.append(chunk)
        arrived.set()

    reader = PipeReader(asyncio.get_running_loop(), read_end, sink)
    os.write(write_end, b"first line\n")
    await arrived.wait()
    with os.fdopen(write_end, "wb") as writer:  # more than a pipe holds: the loop must drain meanwhile
        await asyncio.to_thread(writer.write, b"x" * 200_000)
    while sum(map(len, chunks)) < 11 + 200_000:
        arrived.clear()
        await arrived.wait()
    await asyncio.sleep(0)
    assert b"".join(chunks) == b"first line\n" + b"x" * 200_000
    reader.drain()
    reader.close()  # idempotent after EOF closed it
