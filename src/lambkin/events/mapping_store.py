"""Event source mappings on disk: one row per mapping in lambkin.db, its schema steps, reads and writes."""

from __future__ import annotations

from lambkin.cluster.bus import Bus, SoloBus
from lambkin.events.mappings import Mapping
from lambkin.store import Connection, Migration, Store

TOPIC = "mappings"  # the bus's topic: the mapping with this UUID changed

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
    """Every write commits before the caller answers, so a mapping survives `kill -9`; each is announced on
    the bus, so every node's MappingService reads it again."""

    def __init__(self, db: Store, bus: Bus | None = None) -> None:
        self.db = db
        self.bus: Bus = bus or SoloBus()

    def load(self) -> list[Mapping]:
        return self.db.run_sync(lambda conn: _read(conn, None))

    async def read(self, uuids: frozenset[str] | None) -> list[Mapping]:
        """The stored mappings of these UUIDs (a deleted one is not among them; None: every one)."""
        return await self.db.run(lambda conn: _read(conn, uuids))

    async def put(self, mapping: Mapping) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO event_source_mappings (uuid, mapping) VALUES (?, ?)"
                " ON CONFLICT (uuid) DO UPDATE SET mapping = excluded.mapping",
                (mapping.uuid, mapping.encode()),
            )
            self.bus.announce(conn, TOPIC, mapping.uuid)

        await self.db.run(write)

    async def remove(self, uuid: str) -> None:
        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))
            self.bus.announce(conn, TOPIC, uuid)

        await self.db.run(write)


def _read(conn: Connection, uuids: frozenset[str] | None) -> list[Mapping]:
    select = "SELECT uuid, mapping FROM event_source_mappings"
    if uuids is None:
        rows = conn.execute(f"{select} ORDER BY uuid").fetchall()
    else:
        rows = []
        for uuid in sorted(uuids):
            rows += conn.execute(f"{select} WHERE uuid = ?", (uuid,)).fetchall()
    return [Mapping.decode(r[0], r[1]) for r in rows]
