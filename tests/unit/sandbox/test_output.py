"""PipeReader: a pipe drained by the event loop into a sink, closed at end of file."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os

from lambkin.sandbox.output import ExecFailureWatch, PipeReader
from lambkin.sandbox.runc_cli import not_started_error


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


async def test_a_full_pipe_is_read_one_chunk_a_turn_of_the_loop() -> None:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)  # room for many chunks
    os.set_blocking(write_end, False)
    written = 0
    with contextlib.suppress(BlockingIOError):
        while True:  # fills the pipe: a sandbox writing faster than the loop reads
            written += os.write(write_end, b"x" * 65536)
    chunks: list[bytes] = []
    reader = PipeReader(asyncio.get_running_loop(), read_end, chunks.append)
    turns = 0
    while sum(map(len, chunks)) < written:
        await asyncio.sleep(0)
        turns += 1
        assert len(chunks) <= turns  # never more than one chunk a turn: other callbacks go between
    os.close(write_end)
    reader.drain()  # the writer is gone: the rest, then end of file
    assert sum(map(len, chunks)) == written


def _watched() -> tuple[ExecFailureWatch, list[bytes]]:
    passed: list[bytes] = []
    return ExecFailureWatch(passed.append), passed


def test_tinis_exec_failure_in_pieces_becomes_the_failure_not_output() -> None:
    watch, passed = _watched()

    watch(b"[FATAL tini (6)] ")
    watch(b"exec /var/task/bootstrap failed: Permission denied\nafter\n")

    assert watch.finish() == "fork/exec /var/task/bootstrap: permission denied"
    assert passed == [b"after\n"]


def test_other_first_output_passes_on_whole_and_nothing_fails() -> None:
    watch, passed = _watched()

    watch(b"[FATAL")
    watch(b" something else\n")
    watch(b"[FATAL tini (6)] exec /x failed: No such file or directory\n")  # not the first output

    assert watch.finish() is None
    assert (
        b"".join(passed)
        == b"[FATAL something else\n[FATAL tini (6)] exec /x failed: No such file or directory\n"
    )


def test_a_held_start_is_passed_on_when_the_process_ends() -> None:
    watch, passed = _watched()

    watch(b"[FATAL ti")

    assert passed == []
    assert watch.finish() is None
    assert passed == [b"[FATAL ti"]


def test_runcs_own_exec_failure_is_a_process_not_started() -> None:
    missing = not_started_error(
        'runc run failed: unable to start container process: exec: "/x": stat /x: no such file or directory'
    )
    denied = not_started_error(
        'runc run failed: unable to start container process: exec: "/etc": permission denied'
    )

    assert missing is not None and missing.describe() == "fork/exec /x: no such file or directory"
    assert denied is not None and denied.describe() == "fork/exec /etc: permission denied"
    assert not_started_error("runc run failed: cgroup: write error") is None
