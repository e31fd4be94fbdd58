"""The durable async event queue: <data>/events.db, written through a group-commit journal."""

from __future__ import annotations

from collections.abc import Iterable

from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.queues.journal import Journal
from lambkin.store import Connection, Migration, Store

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
    )
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


class EventStore:
    """Every write returns only once committed; concurrent writes share one transaction (group commit).

    `journal.run()` must be running (the dispatcher's task group owns it).
    """

    def __init__(self, db: Store) -> None:
        self.db = db
        self.journal = Journal(db)

    async def add(self, events: list[AsyncEvent]) -> None:
        """Accepted events, durable when this returns (the caller may then answer 202)."""
        await self.journal.write(lambda conn: _insert(conn, events))

    async def reschedule(self, event: AsyncEvent) -> None:
        """ "Retry scheduled" and "this attempt removed" in one statement: the row takes its next due time."""
        await self.journal.write(
            lambda conn: conn.execute(
                "UPDATE async_events SET due = ?, attempts = ? WHERE request_id = ?",
                (event.due, event.attempts, event.request_id),
            )
        )

    async def remove(self, request_id: str, successors: list[AsyncEvent] | None = None) -> None:
        """Removes a finished event; `successors` (events for a destination function) are added with it."""

        def write(conn: Connection) -> None:
            if successors:
                _insert(conn, successors)
            conn.execute("DELETE FROM async_events WHERE request_id = ?", (request_id,))

        await self.journal.write(write)

    async def payload(self, request_id: str) -> bytes | None:
        """A waiting event's payload (None once the event is gone)."""

        def read(conn: Connection) -> bytes | None:
            row = conn.execute(
                "SELECT payload FROM async_events WHERE request_id = ?", (request_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self.db.run(read)

    def load(self) -> list[AsyncEvent]:
        """Every stored event (start-up): whatever was in flight at a crash is simply due again."""

        def read(conn: Connection) -> list[AsyncEvent]:
            columns = _COLUMNS.replace("payload", "CASE WHEN length(payload) <= ? THEN payload END")
            query = f"SELECT {columns} FROM async_events ORDER BY accepted_at"
            rows = conn.execute(query, (INLINE_LIMIT,)).fetchall()
            return [
                AsyncEvent(
                    request_id=r[0],
                    function=r[1],
                    qualifier=r[2],
                    invoked_arn=r[3],
                    payload=None if r[4] is None else bytes(r[4]),
                    accepted_at=r[5],
                    due=r[6],
                    attempts=r[7],
                )
                for r in rows
            ]

        return self.db.run_sync(read)


def open_event_store(db: Store) -> EventStore:
    """The event store on `db`, migrated."""
    db.migrate(MIGRATIONS)
    return EventStore(db)
