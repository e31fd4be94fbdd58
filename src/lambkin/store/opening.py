"""Which store a part of the server gets: an SQLite file in the data directory, or the PostgreSQL database."""

from __future__ import annotations

from lambkin.config import Settings
from lambkin.store.contract import Store
from lambkin.store.sqlite import SqliteStore


def open_store(settings: Settings, name: str) -> Store:
    """The store named `name` ("lambkin", "queues", "events"): `<data>/<name>.db` when no database URL is
    set; else the PostgreSQL database, where every name is the same database on one pool per process (the
    parts' table names are distinct), in `settings.database_schema` when one is set
    (a region's own tables: regions.py). Raises DatabaseUnreachable when PostgreSQL cannot be used."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteStore(settings.data_dir / f"{name}.db")
    from lambkin.store import postgres  # psycopg is loaded only by a server that uses it

    return postgres.PostgresStore(settings.database_url, name, settings.database_schema)
