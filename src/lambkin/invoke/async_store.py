"""The durable async event queue: <data>/events.db, written through a group-commit journal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from lambkin.cluster.leases import Lease
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.queues.journal import Fence, Journal
from lambkin.store import Connection, Migration, Row, Store

MIGRATIONS = [
    Migration(
        "async_events",
        1,
        """
        CREATE TABLE async_events (
            request_id TEXT PRIMARY KEY,
            function TEXT NOT NULL,
            qualifier TEXT,
            invoked_arn TEXT NOT NULL,
            payload BLOB NOT NULL,
            accepted_at REAL NOT NULL,
            due REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0
        )
        """,
    ),
    # The dispatcher takes events on by function (a function's events are dispatched by one node).
    Migration(
        "async_events", 2, "CREATE INDEX async_events_by_function ON async_events (function, accepted_at)"
    ),
]

INLINE_LIMIT = 64 * 1024  # payloads up to this size stay in memory while their event waits; larger ones load
_COLUMNS = "request_id, function, qualifier, invoked_arn, payload, accepted_at, due, attempts"


def _row(event: AsyncEvent) -> tuple[object, ...]:
    return (
        event.request_id,
        event.function,
        event.qualifier,
        event.invoked_arn,
        event.body,
        event.accepted_at,
        event.due,
        event.attempts,
    )


def _insert(conn: Connection, events: Iterable[AsyncEvent]) -> None:
    # DO NOTHING: an event re-sent under the same request ID (a retried HTTP request) is stored once.
    conn.executemany(
        f"INSERT INTO async_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
        [_row(e) for e in events],
    )


Announce = Callable[[Connection], None]
"""Tells the other nodes, inside the unit of work (sent only if it commits), of events stored for them."""


def _silent(conn: Connection) -> None:
    return None


class EventStore:
    """Every write returns only once committed; concurrent writes share one transaction (group commit).
    The dispatcher's writes are fenced by the lease of the event's function (`async:FUNCTION`): a node that
    lost it never changes the events their new owner dispatches. Accepting is not fenced: any node stores.

    `journal.run()` must be running (the dispatcher's task group owns it).
    """

    def __init__(self, db: Store, fence: Fence | None = None) -> None:
        self.db = db
        self.journal = Journal(db, fence)

    async def add(self, events: list[AsyncEvent], announce: Announce = _silent) -> None:
        """Accepted events, durable when this returns (the caller may then answer 202)."""

        def write(conn: Connection) -> None:
            _insert(conn, events)
            announce(conn)

        await self.journal.write(write)

    async def reschedule(self, event: AsyncEvent, lease: Lease) -> None:
        """ "Retry scheduled" and "this attempt removed" in one statement: the row takes its next due time."""
        await self.journal.write(
            lambda conn: conn.execute(
                "UPDATE async_events SET due = ?, attempts = ? WHERE request_id = ?",
                (event.due, event.attempts, event.request_id),
            ),
            lease,
        )

    async def remove(
        self,
        request_id: str,
        lease: Lease,
        successors: list[AsyncEvent] | None = None,
        announce: Announce = _silent,
    ) -> None:
        """Removes a finished event; `successors` (events for a destination function) are added with it."""

        def write(conn: Connection) -> None:
            if successors:
                _insert(conn, successors)
                announce(conn)
            conn.execute("DELETE FROM async_events WHERE request_id = ?", (request_id,))

        await self.journal.write(write, lease)

    async def payload(self, request_id: str) -> bytes | None:
        """A waiting event's payload (None once the event is gone)."""

        def read(conn: Connection) -> bytes | None:
            row = conn.execute(
                "SELECT payload FROM async_events WHERE request_id = ?", (request_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self.db.run(read)

    def load(self) -> list[AsyncEvent]:
        """Every stored event (for tools and tests: the dispatcher loads by function, `events()`)."""
        return self.db.run_sync(lambda conn: _select(conn, "", ()))

    async def functions(self) -> list[str]:
        """The functions that have stored events."""
        rows = await self.db.run(
            lambda conn: conn.execute("SELECT DISTINCT function FROM async_events").fetchall()
        )
        return [r[0] for r in rows]

    async def waiting(self) -> list[tuple[str, int, float]]:
        """Per function with stored events: how many, and when the oldest was accepted."""
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT function, COUNT(*), MIN(accepted_at) FROM async_events GROUP BY function"
            ).fetchall()
        )
        return [(r[0], int(r[1]), float(r[2])) for r in rows]

    async def events(self, function: str, request_ids: Sequence[str] | None = None) -> list[AsyncEvent]:
        """A function's stored events (those of `request_ids` only, if given): whatever was in flight when
        their last owner died (or was told to stop) is simply due again."""
        if request_ids is None:
            return await self.db.run(lambda conn: _select(conn, "WHERE function = ?", (function,)))
        marks = ", ".join("?" * len(request_ids))
        where = f"WHERE function = ? AND request_id IN ({marks})"
        return await self.db.run(lambda conn: _select(conn, where, (function, *request_ids)))


def _select(conn: Connection, where: str, parameters: tuple[object, ...]) -> list[AsyncEvent]:
    columns = _COLUMNS.replace("payload", "CASE WHEN length(payload) <= ? THEN payload END")
    query = f"SELECT {columns} FROM async_events {where} ORDER BY accepted_at"
    return [_event(r) for r in conn.execute(query, (INLINE_LIMIT, *parameters)).fetchall()]


def _event(r: Row) -> AsyncEvent:
    return AsyncEvent(
        request_id=r[0],
        function=r[1],
        qualifier=r[2],
        invoked_arn=r[3],
        payload=None if r[4] is None else bytes(r[4]),
        accepted_at=r[5],
        due=r[6],
        attempts=r[7],
    )


def open_event_store(db: Store, fence: Fence | None = None) -> EventStore:
    """The event store on `db`, migrated."""
    db.migrate(MIGRATIONS)
    return EventStore(db, fence)
