"""Text orders alike on both engines: byte by byte, as SQLite's does, whatever PostgreSQL database's own
collation (an operator's database is rarely "C"), so listings page in the same order on either."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lambkin.store import Connection, Migration, Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from tests import postgres

NAMES = ["a-b", "a_b", "aB", "ab", "B", "$LATEST", "10", "9", "z", "Zeta", "é"]
TABLE = Migration("collation", 1, "CREATE TABLE names (name TEXT PRIMARY KEY)")


def _english_database() -> str:
    """A fresh database whose own collation is ICU's English (where "a-b" sorts with "ab", and "B" after "a")."""
    server = postgres.shared()
    name = f"english_{uuid.uuid4().hex}"  # an object's id may come back once it is freed
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
            " LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        )
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def named(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store: Store
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "test.db")
    else:
        store = PostgresStore(_english_database(), "test")
    try:
        store.migrate([TABLE])
        store.run_sync(
            lambda conn: conn.executemany("INSERT INTO names (name) VALUES (?)", [(n,) for n in NAMES])
        )
        yield store
    finally:
        store.close()


def test_order_by_is_byte_order(named: Store) -> None:
    ordered = named.run_sync(
        lambda conn: [r[0] for r in conn.execute("SELECT name FROM names ORDER BY name")]
    )
    assert ordered == sorted(NAMES, key=lambda n: n.encode())


def test_a_page_after_a_marker_is_the_rest_in_byte_order(named: Store) -> None:
    def after(conn: Connection) -> list[str]:
        return [
            r[0]
            for r in conn.execute("SELECT name FROM names WHERE name > ? ORDER BY name LIMIT 3", ("Zeta",))
        ]

    assert named.run_sync(after) == ["a-b", "aB", "a_b"]


def test_equality_is_exact(named: Store) -> None:
    found = named.run_sync(
        lambda conn: conn.execute("SELECT name FROM names WHERE name = ?", ("AB",)).fetchall()
    )
    assert found == []
