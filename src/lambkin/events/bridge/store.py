"""EventBridge's buses and rules on disk (lambkin.db): one row each, a JSON document, its schema steps."""

from __future__ import annotations

import json
from typing import Any

from lambkin.store import Connection, Migration, Store

MIGRATIONS = [
    Migration(
        "eventbridge",
        1,
        """
        CREATE TABLE event_buses (
            name TEXT PRIMARY KEY,
            bus TEXT NOT NULL
        )
        """,
    ),
    Migration(
        "eventbridge",
        2,
        """
        CREATE TABLE event_rules (
            bus TEXT NOT NULL,
            name TEXT NOT NULL,
            rule TEXT NOT NULL,
            PRIMARY KEY (bus, name)
        )
        """,
    ),
]

Document = dict[str, Any]


def _read(conn: Connection) -> tuple[list[Document], list[Document]]:
    buses = conn.execute("SELECT bus FROM event_buses ORDER BY name").fetchall()
    rules = conn.execute("SELECT rule FROM event_rules ORDER BY bus, name").fetchall()
    return [json.loads(r[0]) for r in buses], [json.loads(r[0]) for r in rules]


class BridgeStore:
    """Every write commits before the caller answers, so buses and rules survive `kill -9`."""

    def __init__(self, db: Store) -> None:
        self.db = db

    def load(self) -> tuple[list[Document], list[Document]]:
        """Every bus and every rule, in name order."""
        return self.db.run_sync(_read)

    async def read(self) -> tuple[list[Document], list[Document]]:
        return await self.db.run(_read)

    async def put_bus(self, bus: Document) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO event_buses (name, bus) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET bus = excluded.bus",
                (bus["Name"], json.dumps(bus)),
            )
        )

    async def remove_bus(self, name: str) -> None:
        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM event_rules WHERE bus = ?", (name,))
            conn.execute("DELETE FROM event_buses WHERE name = ?", (name,))

        await self.db.run(write)

    async def put_rule(self, rule: Document) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO event_rules (bus, name, rule) VALUES (?, ?, ?)"
                " ON CONFLICT (bus, name) DO UPDATE SET rule = excluded.rule",
                (rule["EventBusName"], rule["Name"], json.dumps(rule)),
            )
        )

    async def remove_rule(self, bus: str, name: str) -> None:
        await self.db.run(
            lambda conn: conn.execute("DELETE FROM event_rules WHERE bus = ? AND name = ?", (bus, name))
        )
