"""Which store a part of the server gets: an SQLite file in the data directory, or the PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from lambkin.store.contract import Store
from lambkin.store.sqlite import SqliteStore


class Where(Protocol):
    """What of the server's settings (config.Settings) says where its state lives; the store layer reads
    only these, so it does not depend on the configuration above it."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def database_url(self) -> str | None: ...

    @property
    def database_schema(self) -> str | None: ...


def open_store(settings: Where, name: str) -> Store:
    """The store named `name` ("lambkin", "queues", "events"): `<data>/<name>.db` when no database URL is
    set; else the PostgreSQL database, where every name is the same database on one pool per process (the
    parts' table names are distinct), in `settings.database_schema` when one is set
    (a region's own tables: regions.py). Raises DatabaseUnreachable when PostgreSQL cannot be used."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteStore(settings.data_dir / f"{name}.db")
    from lambkin.store import postgres  # psycopg is loaded only by a server that uses it

    return postgres.PostgresStore(settings.database_url, name, settings.database_schema)
