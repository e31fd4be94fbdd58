"""Blocking work that may move its thread between namespaces, run in a fresh thread and awaited."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from lambkin.loop_cpu import unpinned

T = TypeVar("T")


async def in_own_thread(work: Callable[[], T], undo: Callable[[T], None]) -> T:
    """Runs blocking `work` in a fresh thread (it may move between namespaces, so never a pooled one).

    If the caller is cancelled meanwhile, `undo` receives the result once the work ends.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.cancelled():
            if error is None:
                with unpinned():
                    threading.Thread(target=undo, args=(result,), daemon=True).start()
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    with unpinned():  # the thread runs on every CPU, not the event loop's alone (loop_cpu.py)
        threading.Thread(target=run, name="lambkin-sandbox", daemon=True).start()
    return await future
