"""Durable firings: each due firing of a schedule (or scheduled rule) is a row before it is delivered, and
each schedule's cursor (the last due time considered) moves in the same transaction, so a firing is recorded
once however often the timer looks, and delivered at least once whatever stops the server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lambkin.store import Connection, Migration, Store

MIGRATIONS = [
    Migration(
        "schedules",
        1,
        """
        CREATE TABLE schedule_firings (
            source TEXT NOT NULL,
            due REAL NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt REAL NOT NULL,
            PRIMARY KEY (source, due)
        )
        """,
    ),
    Migration(
        "schedules",
        2,
        """
        CREATE TABLE schedule_cursors (
            source TEXT PRIMARY KEY,
            last_due REAL NOT NULL
        )
        """,
    ),
]


@dataclass(frozen=True, slots=True)
class Firing:
    """One due firing of `source` (a rule's or a schedule's ARN) at `due`, attempted `attempts` times."""

    source: str
    due: float
    attempts: int = 0
    next_attempt: float = 0.0


Fence = Callable[[Connection], None]  # raises if this node no longer holds the timer's lease


class FiringStore:
    def __init__(self, db: Store) -> None:
        self.db = db

    async def cursors(self) -> dict[str, float]:
        def read(conn: Connection) -> dict[str, float]:
            rows = conn.execute("SELECT source, last_due FROM schedule_cursors").fetchall()
            return {str(r[0]): float(r[1]) for r in rows}

        return await self.db.run(read)

    async def record(self, firings: Sequence[Firing], cursors: dict[str, float], fence: Fence) -> None:
        """Stores new firings (one already there stays as it is) and moves the cursors, in one fenced
        transaction."""

        def write(conn: Connection) -> None:
            fence(conn)
            for firing in firings:
                conn.execute(
                    "INSERT INTO schedule_firings (source, due, attempts, next_attempt) VALUES (?, ?, 0, ?)"
                    " ON CONFLICT (source, due) DO NOTHING",
                    (firing.source, firing.due, firing.next_attempt),
                )
            for source, last_due in cursors.items():
                conn.execute(
                    "INSERT INTO schedule_cursors (source, last_due) VALUES (?, ?)"
                    " ON CONFLICT (source) DO UPDATE SET last_due = excluded.last_due",
                    (source, last_due),
                )

        await self.db.run(write)

    async def due(self, until: float, limit: int) -> list[Firing]:
        """The firings whose next attempt is due by `until`, earliest first."""

        def read(conn: Connection) -> list[Firing]:
            rows = conn.execute(
                "SELECT source, due, attempts, next_attempt FROM schedule_firings WHERE next_attempt <= ?"
                " ORDER BY next_attempt, source LIMIT ?",
                (until, limit),
            ).fetchall()
            return [Firing(str(r[0]), float(r[1]), int(r[2]), float(r[3])) for r in rows]

        return await self.db.run(read)

    async def settle(self, done: Sequence[Firing], retries: Sequence[tuple[Firing, float]]) -> None:
        """Forgets delivered (or given up) firings and moves each firing to retry to its next attempt, in
        one transaction."""

        def write(conn: Connection) -> None:
            for firing in done:
                conn.execute(
                    "DELETE FROM schedule_firings WHERE source = ? AND due = ?", (firing.source, firing.due)
                )
            for firing, at in retries:
                conn.execute(
                    "UPDATE schedule_firings SET attempts = attempts + 1, next_attempt = ?"
                    " WHERE source = ? AND due = ?",
                    (at, firing.source, firing.due),
                )

        if done or retries:
            await self.db.run(write)

    async def forget(self, source: str) -> None:
        """A deleted schedule's firings and cursor."""

        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM schedule_firings WHERE source = ?", (source,))
            conn.execute("DELETE FROM schedule_cursors WHERE source = ?", (source,))

        await self.db.run(write)
