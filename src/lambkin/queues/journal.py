"""Group commit: the writes of every request waiting at once go to the store in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from lambkin.store import Connection, Store, fatal

T = TypeVar("T")
Write = Callable[[Connection], Any]


class JournalClosed(Exception):
    """The journal stopped before this write was committed."""


class Journal:
    """`await write(fn)` returns once `fn`'s changes are committed (WAL), so a caller may then say yes.

    Writes queue up while one transaction runs; the next transaction takes all of them. They go in one after
    another, without savepoints (on PostgreSQL each would be two more round trips); only if one fails is the
    batch rolled back and applied again with each write inside its own savepoint, so that it rolls back
    alone. Writes are functions of the connection only, so running one again is safe. `run()` is the one
    loop that commits; it belongs to the queue service's task group.
    """

    def __init__(self, db: Store) -> None:
        self._db = db
        self._pending: list[tuple[Write, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._committing: list[tuple[Write, asyncio.Future[Any]]] = []

    async def write(self, fn: Callable[[Connection], T]) -> T:
        if self._closed:
            raise JournalClosed("the queue journal is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, future))
        self._wake.set()
        return await future

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self._committing, self._pending = self._pending, []
                if self._committing:
                    await self._commit(self._committing)
                self._committing = []
        finally:
            self._closed = True
            for _, future in self._committing + self._pending:
                if not future.done():
                    future.set_exception(JournalClosed("the queue journal stopped"))
            self._pending.clear()

    async def _commit(self, batch: list[tuple[Write, asyncio.Future[Any]]]) -> None:
        writes = [fn for fn, _ in batch]
        try:
            try:
                outcomes = await self._db.run(lambda conn: [(True, fn(conn)) for fn in writes])
            except Exception as exc:
                if len(writes) == 1 or fatal(exc):
                    raise
                outcomes = await self._db.run(lambda conn: _apply(conn, writes))
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _apply(conn: Connection, writes: list[Write]) -> list[tuple[bool, Any]]:
    """The batch again after one of its writes failed: each write in a savepoint of its own."""
    outcomes: list[tuple[bool, Any]] = []
    for fn in writes:
        conn.execute("SAVEPOINT w")
        try:
            value = fn(conn)
        except Exception as exc:
            if fatal(exc):  # no write of this batch can be kept: the whole transaction is rolled back
                raise
            conn.execute("ROLLBACK TO w")
            conn.execute("RELEASE w")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE w")
            outcomes.append((True, value))
    return outcomes
