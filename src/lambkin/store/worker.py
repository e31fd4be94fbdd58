"""What both backends share: a store's units of work run one at a time on its own thread, off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from lambkin.loop_cpu import thread_pool
from lambkin.store.contract import Connection

T = TypeVar("T")


class OneThread:
    """`run` and `run_sync` over the backend's `_transaction(fn)`, on one worker thread named `thread`."""

    def __init__(self, thread: str) -> None:
        self._executor = thread_pool(max_workers=1, thread_name_prefix=thread)  # on every CPU (loop_cpu.py)

    def _transaction(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def run(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, fn)

    async def run_pipelined(self, fn: Callable[[Connection], T]) -> T:
        """`run`, unless the backend has a pipeline mode of its own (PostgreSQL's)."""
        return await self.run(fn)

    def run_sync(self, fn: Callable[[Connection], T]) -> T:
        """For start-up and tools that have no event loop."""
        return self._executor.submit(self._transaction, fn).result()
