"""Group commit: the writes of every request waiting at once go to the store in one transaction, fenced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from lambkin.cluster.leases import Lease
from lambkin.store import Connection, Store, fatal

T = TypeVar("T")
Write = Callable[[Connection], Any]
Fence = Callable[[Connection, Lease], None]
Pending = tuple[Write, tuple[Lease, ...], asyncio.Future[Any], bool]  # the last: its value reads after commit


class JournalClosed(Exception):
    """The journal stopped before this write was committed."""


class Journal:
    """`await write(fn)` returns once `fn`'s changes are committed (WAL), so a caller may then say yes.

    Writes queue up while one transaction runs; the next transaction takes all of them. They go in one after
    another, without savepoints (on PostgreSQL each would be two more round trips), pipelined (PostgreSQL
    waits only where a write reads rows, and for the commit); only if one fails is the batch rolled back and
    applied again, not pipelined, with each write inside its own savepoint, so that it rolls back alone. Writes are functions of the connection only, so running one again is safe. `run()` is the one
    loop that commits; it belongs to the queue service's task group.

    `write_then_read(fn)` is for a write that reads rows back (a receive: the messages' bodies): `fn` sends
    its statements and returns a function that reads their rows, called once the batch is committed. On
    PostgreSQL the rows then come back with the COMMIT's own round trip, so the batch waits on PostgreSQL
    once, not twice; on SQLite the rows are read inside the transaction, as before.

    A write for leased work names its leases: the transaction first checks each distinct lease once
    (`fence`, which raises LeaseLost once another node took it), so a node that lost a queue or a function's
    events never writes over their new owner; only the writes of a lost lease fail.
    """

    def __init__(self, db: Store, fence: Fence | None = None) -> None:
        self._db = db
        self._fence = fence
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._committing: list[Pending] = []

    async def write(self, fn: Callable[[Connection], T], *leases: Lease) -> T:
        """Returns `fn`'s value once committed, with each of `leases` still held by this node then."""
        value: T = await self._queue(fn, leases, read_after=False)
        return value

    async def write_then_read(self, fn: Callable[[Connection], Callable[[], T]], *leases: Lease) -> T:
        """`write`, where `fn` returns the reading of its rows (of its cursors), done once committed (on
        SQLite, inside the transaction)."""
        if self._db.dialect == "sqlite":
            value: T = await self._queue(lambda conn: fn(conn)(), leases, read_after=False)
        else:
            value = await self._queue(fn, leases, read_after=True)
        return value

    async def _queue(self, fn: Write, leases: tuple[Lease, ...], read_after: bool) -> Any:
        if self._closed:
            raise JournalClosed("the queue journal is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, leases if self._fence is not None else (), future, read_after))
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
            for _, _, future, _ in self._committing + self._pending:
                if not future.done():
                    future.set_exception(JournalClosed("the queue journal stopped"))
            self._pending.clear()

    async def _commit(self, batch: list[Pending]) -> None:
        writes = [(fn, leases) for fn, leases, _, _ in batch]
        leases = list(dict.fromkeys(lease for _, held, _, _ in batch for lease in held))
        fence = self._fence

        def whole(conn: Connection) -> list[tuple[bool, Any]]:
            if fence is not None:
                for lease in leases:
                    fence(conn, lease)
            return [(True, fn(conn)) for fn, _ in writes]

        try:
            try:
                outcomes = await self._db.run_pipelined(whole)
            except Exception as exc:
                if len(writes) == 1 or fatal(exc):
                    raise
                outcomes = await self._db.run(lambda conn: _apply(conn, writes, fence))
        except Exception as exc:
            for _, _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future, read_after), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if not ok:
                future.set_exception(value)
                continue
            if read_after:  # committed: its rows are in its cursors already, no round trip is left
                try:
                    value = value()
                except Exception as exc:
                    future.set_exception(exc)
                    continue
            future.set_result(value)


def _apply(
    conn: Connection, writes: list[tuple[Write, tuple[Lease, ...]]], fence: Fence | None
) -> list[tuple[bool, Any]]:
    """The batch again after one of its writes failed: each write in a savepoint of its own, after its
    own leases' fences."""
    outcomes: list[tuple[bool, Any]] = []
    for fn, leases in writes:
        conn.execute("SAVEPOINT w")
        try:
            if fence is not None:
                for lease in leases:
                    fence(conn, lease)
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
