"""The PostgreSQL backend's own promises: a clear line at start, retryable errors while the database is away,
recovery by itself when it is back, and one database for every store name."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lambkin.config import Settings
from lambkin.store import Connection, DatabaseUnreachable, StoreUnavailable, open_store
from lambkin.store.postgres import PostgresStore, placeholders
from lambkin.store.sqlite import SqliteStore
from tests import postgres
from tests.harness import free_port


def test_placeholders_become_psycopgs_outside_quotes() -> None:
    assert placeholders("SELECT '?%', \"a?\" FROM t WHERE a = ? AND b LIKE '5%'") == (
        "SELECT '?%%', \"a?\" FROM t WHERE a = %s AND b LIKE '5%%'"
    )


def test_a_wrong_password_stops_the_start_with_one_line() -> None:
    server = postgres.shared()
    with pytest.raises(DatabaseUnreachable) as refused:
        PostgresStore(server.tcp_url(password="not-the-password"), "lambkin")
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith(f"Cannot use the database postgres@127.0.0.1:{server.port}/postgres: ")
    assert "password authentication failed" in line
    assert "not-the-password" not in line


def test_nothing_listening_stops_the_start_with_one_line() -> None:
    with pytest.raises(
        DatabaseUnreachable, match=r"^Cannot use the database u@127\.0\.0\.1:\d+/db: .*refused"
    ):
        PostgresStore(f"postgresql://u:secret@127.0.0.1:{free_port()}/db", "lambkin")


def test_a_url_that_is_not_one_stops_the_start_with_one_line() -> None:
    with pytest.raises(DatabaseUnreachable, match="not a PostgreSQL connection string"):
        PostgresStore("postgres//nowhere", "lambkin")


def test_every_store_name_is_the_same_database(tmp_path: Path) -> None:
    url = postgres.shared().create_database()
    settings = Settings(data_dir=tmp_path, database_url=url)
    first, second = open_store(settings, "lambkin"), open_store(settings, "queues")
    try:
        first.run_sync(lambda conn: conn.execute("CREATE TABLE shared (v INTEGER)"))
        second.run_sync(lambda conn: conn.execute("INSERT INTO shared (v) VALUES (?)", (1,)))
        assert first.run_sync(lambda conn: conn.execute("SELECT v FROM shared").fetchall()[0][0]) == 1
        assert first.dialect == second.dialect == "postgresql"
    finally:
        first.close()
        second.close()
    assert list(tmp_path.iterdir()) == []  # no SQLite file made beside it


def test_without_a_url_each_name_is_its_own_sqlite_file(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path), "queues")
    try:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "queues.db"
        assert store.dialect == "sqlite"
    finally:
        store.close()


async def test_the_database_away_is_retryable_and_lambkin_recovers_when_it_is_back(
    private_postgres: postgres.PostgresServer,
) -> None:
    store = PostgresStore(private_postgres.create_database(), "lambkin")
    try:
        await store.run(lambda conn: conn.execute("CREATE TABLE t (v INTEGER)"))

        def insert(conn: Connection) -> None:
            conn.execute("INSERT INTO t (v) VALUES (?)", (1,))

        private_postgres.stop()
        with pytest.raises(StoreUnavailable) as away:
            await store.run(insert)
        assert (away.value.code, away.value.status) == ("ServiceUnavailable", 503)
        assert "database is unreachable" in away.value.message and "Retry" in away.value.message

        private_postgres.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                await store.run(insert)
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        assert await store.run(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchall()[0][0]) == 1
    finally:
        store.close()
