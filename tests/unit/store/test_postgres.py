"""The PostgreSQL backend's own promises: a clear line at start, retryable errors while the database is away,
recovery by itself when it is back, and one database for every store name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from lambkin.config import Settings
from lambkin.store import Conflict, Connection, DatabaseUnreachable, Migration, StoreUnavailable, open_store
from lambkin.store import postgres as pg_store
from lambkin.store.postgres import PostgresStore, placeholders
from lambkin.store.sqlite import SqliteStore
from tests import postgres
from tests.harness import free_port


def test_placeholders_become_postgresqls_numbered_ones_outside_quotes() -> None:
    assert placeholders("SELECT '?%', \"a?\" FROM t WHERE a = ? AND b LIKE '5%' OR c IN (?, ?)") == (
        "SELECT '?%', \"a?\" FROM t WHERE a = $1 AND b LIKE '5%' OR c IN ($2, $3)"
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


def test_a_url_gets_the_liveness_settings_it_does_not_set_itself() -> None:
    given = conninfo_to_dict(
        pg_store.watched("postgresql://u@db.example:5432/x?connect_timeout=30&keepalives_idle=60")
    )
    assert given["connect_timeout"] == "30" and given["keepalives_idle"] == "60"
    assert given["tcp_user_timeout"] == "10000" and given["keepalives_count"] == "3"
    assert conninfo_to_dict(pg_store.watched("postgresql://u@db.example/x"))["connect_timeout"] == "5"


def test_a_url_that_is_not_one_stops_the_start_with_one_line() -> None:
    with pytest.raises(DatabaseUnreachable, match="not a PostgreSQL connection string"):
        PostgresStore("postgres//nowhere", "lambkin")


def test_the_pool_keeps_its_chatter_out_of_the_servers_log(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("psycopg.pool").setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)  # as `lambkin server` logs
    store = PostgresStore(postgres.shared().create_database(), "lambkin")
    try:
        assert not logging.getLogger("psycopg.pool").isEnabledFor(logging.INFO)
        assert logging.getLogger("psycopg.pool").isEnabledFor(logging.WARNING)
    finally:
        store.close()


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


def test_a_regions_schema_keeps_its_tables_and_its_migrations_apart(tmp_path: Path) -> None:
    url = postgres.shared().create_database()
    steps = [Migration("things", 1, "CREATE TABLE things (name TEXT PRIMARY KEY)")]
    home = open_store(Settings(data_dir=tmp_path, database_url=url), "queues")
    region = open_store(
        Settings(data_dir=tmp_path, database_url=url, database_schema="lambkin_eu_west_1"), "q"
    )
    try:
        home.migrate(steps)
        home.run_sync(lambda conn: conn.execute("CREATE TABLE cluster_nodes (name TEXT)"))
        region.migrate(steps)  # recorded as applied in public: still pending in the region's schema
        region.run_sync(lambda conn: conn.execute("INSERT INTO things (name) VALUES (?)", ("europe",)))
        assert home.run_sync(lambda conn: conn.execute("SELECT name FROM things").fetchall()) == []
        tables = region.run_sync(
            lambda conn: conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
                ("lambkin_eu_west_1",),
            ).fetchall()
        )
        assert [row[0] for row in tables] == ["schema_migrations", "things"]
        # the shared tables in public stay visible to the region's parts (search_path <schema>, public)
        assert (
            region.run_sync(lambda conn: conn.execute("SELECT count(*) FROM cluster_nodes").fetchall()[0][0])
            == 0
        )
    finally:
        home.close()
        region.close()


def test_without_a_url_each_name_is_its_own_sqlite_file(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path), "queues")
    try:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "queues.db"
        assert store.dialect == "sqlite"
    finally:
        store.close()


@pytest.mark.parametrize("pipelined", [False, True], ids=["run", "run_pipelined"])
async def test_the_database_away_is_retryable_and_lambkin_recovers_when_it_is_back(
    private_postgres: postgres.PostgresServer, pipelined: bool
) -> None:
    store = PostgresStore(private_postgres.create_database(), "lambkin")
    run = store.run_pipelined if pipelined else store.run
    try:
        await store.run(lambda conn: conn.execute("CREATE TABLE t (v INTEGER)"))

        def insert(conn: Connection) -> None:
            conn.execute("INSERT INTO t (v) VALUES (?)", (1,))

        private_postgres.stop()
        with pytest.raises(StoreUnavailable) as away:
            await run(insert)
        assert (away.value.code, away.value.status) == ("ServiceUnavailable", 503)
        assert "database is unreachable" in away.value.message and "Retry" in away.value.message

        private_postgres.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                await run(insert)
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        assert await store.run(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchall()[0][0]) == 1
    finally:
        store.close()


async def test_a_pipelined_unit_of_megabytes_commits_though_postgresql_was_slow_to_read() -> None:
    """A unit of several megabytes sent while its server reads nothing (stopped for a moment): every byte of it
    still goes out before its results are awaited, and it commits (psycopg's `commit()` inside a pipeline
    awaited them with the tail still in libpq's buffer, and both sides waited for ever)."""
    store = PostgresStore(postgres.shared().create_database(), "lambkin")
    unit: asyncio.Future[None] | None = None
    backend: int | None = None
    try:
        await store.run(
            lambda conn: conn.execute("CREATE TABLE blobs (k TEXT PRIMARY KEY, v BYTEA NOT NULL)")
        )
        # the store's worker keeps its connection between units: the next unit is served by this backend
        backend = await store.run(lambda conn: conn.execute("SELECT pg_backend_pid()").fetchall()[0][0])
        blob = os.urandom(4_000_000)

        def insert(conn: Connection) -> None:
            conn.execute("INSERT INTO blobs (k, v) VALUES (?, ?)", ("big", blob))

        os.kill(backend, signal.SIGSTOP)
        try:
            unit = asyncio.ensure_future(store.run_pipelined(insert))
            await asyncio.sleep(0.3)
        finally:
            os.kill(backend, signal.SIGCONT)
        await asyncio.wait_for(asyncio.shield(unit), 15)
        stored = await store.run(lambda conn: conn.execute("SELECT length(v) FROM blobs").fetchall()[0][0])
        assert stored == len(blob)
    finally:
        if unit is not None and not unit.done() and backend is not None:
            os.kill(backend, signal.SIGTERM)  # ends the wait, so that the store's thread can close
            with contextlib.suppress(Exception):
                await unit
        store.close()


def test_a_unit_that_swallows_a_failed_statement_is_not_reported_committed() -> None:
    """PostgreSQL aborts the transaction at a failed statement, and its COMMIT would then quietly roll back:
    the unit fails instead of saying it is done (a unit that goes on after an error takes a savepoint)."""
    store = PostgresStore(postgres.shared().create_database(), "lambkin")
    try:
        store.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)"))
        store.run_sync(lambda conn: conn.execute("INSERT INTO t (v) VALUES (?)", (1,)))

        def swallow(conn: Connection) -> None:
            conn.execute("INSERT INTO t (v) VALUES (?)", (2,))
            with contextlib.suppress(Conflict):
                conn.execute("INSERT INTO t (v) VALUES (?)", (1,))

        with pytest.raises(RuntimeError, match="rolled back"):
            store.run_sync(swallow)
        assert store.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t")]) == [1]
    finally:
        store.close()


def test_a_role_that_may_not_create_tables_stops_the_start_with_one_line() -> None:
    server = postgres.shared()
    url = server.create_database()
    database = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE ROLE visitor LOGIN PASSWORD 'visitor-pw'")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    store = PostgresStore(f"postgresql://visitor:visitor-pw@127.0.0.1:{server.port}/{database}", "lambkin")
    try:
        with pytest.raises(DatabaseUnreachable) as refused:
            store.migrate([Migration("t", 1, "CREATE TABLE t (v INTEGER)")])
        assert str(refused.value) == (
            f"Cannot use the database visitor@127.0.0.1:{server.port}/{database}: permission denied for schema "
            "public; lambkin's role must own the database (createdb --owner)"
        )
    finally:
        store.close()


def test_a_statement_run_often_on_a_small_table_finds_its_rows_by_key_once_the_table_has_grown() -> None:
    """The queue engine's tables start empty and grow: a statement prepared while its table held one row
    must not go on reading the whole table (a kept plan that did made each receive cost milliseconds)."""
    store = PostgresStore(postgres.shared().create_database(), "lambkin")
    try:
        store.migrate([Migration("t", 1, "CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)")])

        def plan_once_grown(conn: Connection) -> str:
            conn.execute("INSERT INTO t (id, v) VALUES (?, ?)", ("a", 1))
            conn.execute("ANALYZE t")  # as autovacuum does while the table is small
            conn.execute("PREPARE lookup (text, text) AS SELECT v FROM t WHERE id IN ($1, $2)")
            for _ in range(10):  # as often as a prepared statement runs before PostgreSQL may keep a plan
                assert [r[0] for r in conn.execute("EXECUTE lookup ('a', 'b')")] == [1]
            conn.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(f"k{i}", i) for i in range(20_000)])
            return "\n".join(r[0] for r in conn.execute("EXPLAIN EXECUTE lookup ('k7', 'b')"))

        plan = store.run_sync(plan_once_grown)
        assert "Seq Scan" not in plan, plan
        assert "t_pkey" in plan
    finally:
        store.close()


def test_a_workers_kept_connection_is_replaced_once_it_has_lived_its_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store's worker keeps its connection between units, yet the pool's maximum lifetime still ends it (a
    server-side memory leak or a moved database endpoint is shed in time, as the pool promises)."""
    monkeypatch.setattr(pg_store, "MAX_LIFETIME_S", 0.2)
    monkeypatch.setattr(pg_store, "HOLD_S", 0.1)
    store = PostgresStore(postgres.shared().create_database(), "lambkin")

    def backend(conn: Connection) -> int:
        return int(conn.execute("SELECT pg_backend_pid()").fetchall()[0][0])

    try:
        first = store.run_sync(backend)
        assert store.run_sync(backend) == first  # kept between units
        deadline = time.monotonic() + 30
        while store.run_sync(backend) == first:  # past its lifetime (0.2 s and a jitter of up to 5%)
            assert time.monotonic() < deadline, "the kept connection was never replaced"
            time.sleep(0.05)
    finally:
        store.close()
