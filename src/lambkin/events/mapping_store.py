"""Event source mappings on disk: one row per mapping in lambkin.db, its schema steps, reads and writes."""

from __future__ import annotations

from lambkin.events.mappings import Mapping
from lambkin.store import Connection, Migration, Store

MIGRATIONS = [
    Migration(
        "event_source_mappings",
        1,
        """
        CREATE TABLE event_source_mappings (
            uuid TEXT PRIMARY KEY,
            mapping TEXT NOT NULL
        )
        """,
    )
]


class MappingStore:
    """Every write commits before the caller answers, so a mapping survives `kill -9`."""

    def __init__(self, db: Store) -> None:
        self.db = db

    def load(self) -> list[Mapping]:
        def read(conn: Connection) -> list[Mapping]:
            rows = conn.execute("SELECT uuid, mapping FROM event_source_mappings ORDER BY uuid").fetchall()
            return [Mapping.decode(r[0], r[1]) for r in rows]

        return self.db.run_sync(read)

    async def put(self, mapping: Mapping) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO event_source_mappings (uuid, mapping) VALUES (?, ?)"
                " ON CONFLICT (uuid) DO UPDATE SET mapping = excluded.mapping",
                (mapping.uuid, mapping.encode()),
            )
        )

    async def remove(self, uuid: str) -> None:
        await self.db.run(
            lambda conn: conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))
        )
