"""Group commit: concurrent writes share a transaction, and one failing write rolls back alone."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lambkin.queues.journal import Journal, JournalClosed
from lambkin.store import Conflict, Connection
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from tests import postgres


def insert(value: int) -> Callable[[Connection], int]:
    """A write of `value` into the test table t (its column v unique): returns the value once written."""

    def write(conn: Connection) -> int:
        conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        return value

    return write


async def test_writes_commit_together_and_fail_alone(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "j.db")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE)"))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    results = await asyncio.gather(
        journal.write(insert(1)),
        journal.write(insert(1)),
        journal.write(insert(2)),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], sqlite3.IntegrityError)
    rows = db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")])
    assert rows == [1, 2]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    with pytest.raises(JournalClosed):
        await journal.write(insert(3))
    db.close()


async def test_a_lone_failing_write_leaves_nothing_behind(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "j.db")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE)"))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    def half_done(conn: Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES (7)")
        raise ValueError("failed after its first change")

    with pytest.raises(ValueError):
        await journal.write(half_done)
    assert await journal.write(lambda conn: conn.execute("INSERT INTO t (v) VALUES (8)").rowcount) == 1
    assert db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t")]) == [8]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    db.close()


async def test_a_failing_write_in_a_batch_leaves_nothing_of_its_own_and_the_others_commit(
    tmp_path: Path,
) -> None:
    db = SqliteStore(tmp_path / "j.db")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE)"))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    def half_done(conn: Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES (7)")
        raise ValueError("failed after its first change")

    def insert(value: int) -> Callable[[Connection], int]:
        return lambda conn: conn.execute("INSERT INTO t (v) VALUES (?)", (value,)).rowcount

    results = await asyncio.gather(
        journal.write(insert(1)), journal.write(half_done), journal.write(insert(2)), return_exceptions=True
    )
    assert results[0] == 1 and isinstance(results[1], ValueError) and results[2] == 1
    assert db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]) == [1, 2]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    db.close()


async def test_on_postgresql_a_batch_is_pipelined_and_a_failing_write_fails_alone() -> None:
    """The batch goes out pipelined: the duplicate's error surfaces later than its statement (at a read or
    at the commit); the batch is then applied again with savepoints, so only that write fails."""
    db = PostgresStore(postgres.shared().create_database(), "queues")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE)"))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    def count(conn: Connection) -> int:
        row = conn.execute("SELECT COUNT(*) FROM t").fetchone()
        assert row is not None
        return int(row[0])

    results = await asyncio.gather(
        journal.write(insert(1)),
        journal.write(insert(1)),
        journal.write(count),
        journal.write(insert(2)),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], Conflict)
    assert results[2] == 1  # what it read after the first insert, in the batch applied again
    rows = db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")])
    assert rows == [1, 2]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    db.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_a_write_that_reads_rows_back_gets_them_as_committed_beside_a_failing_write(
    engine: str, tmp_path: Path
) -> None:
    """write_then_read: the rows a write reads (after its own change) reach it once the batch is committed
    (on PostgreSQL they come back with the COMMIT), also when a failing write sends the batch round again."""
    db: SqliteStore | PostgresStore = (
        SqliteStore(tmp_path / "j.db")
        if engine == "sqlite"
        else PostgresStore(postgres.shared().create_database(), "queues")
    )
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE, n INTEGER NOT NULL)"))
    db.run_sync(lambda conn: conn.executemany("INSERT INTO t (v, n) VALUES (?, 0)", [(1,), (2,)]))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    def bump(conn: Connection) -> Callable[[], list[tuple[int, int]]]:
        conn.execute("UPDATE t SET n = n + 1")
        rows = conn.execute("SELECT v, n FROM t ORDER BY v")
        return lambda: [(r[0], r[1]) for r in rows]

    def duplicate(conn: Connection) -> None:
        conn.execute("INSERT INTO t (v, n) VALUES (1, 0)")

    alone = await journal.write_then_read(bump)
    assert alone == [(1, 1), (2, 1)]
    results = await asyncio.gather(
        journal.write_then_read(bump),
        journal.write(duplicate),
        journal.write_then_read(bump),
        return_exceptions=True,
    )
    assert results[0] == [(1, 2), (2, 2)]
    assert isinstance(results[1], Conflict | sqlite3.IntegrityError)
    assert results[2] == [(1, 3), (2, 3)]
    rows = db.run_sync(lambda conn: [(r[0], r[1]) for r in conn.execute("SELECT v, n FROM t ORDER BY v")])
    assert rows == [(1, 3), (2, 3)]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    db.close()


async def test_on_postgresql_a_failed_commit_fails_its_whole_batch_and_keeps_what_was_acknowledged() -> None:
    """A batch whose COMMIT itself fails (here a deferred constraint, checked only then): every caller of
    that batch hears the error, none a yes, and what earlier batches acknowledged is still there."""
    db = PostgresStore(postgres.shared().create_database(), "queues")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE t (v INTEGER UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
    journal = Journal(db)
    runner = asyncio.create_task(journal.run())

    assert await journal.write(insert(1)) == 1
    results = await asyncio.gather(
        journal.write(insert(2)), journal.write(insert(1)), journal.write(insert(3)), return_exceptions=True
    )
    assert all(isinstance(result, Exception) for result in results), results
    assert db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t")]) == [1]
    assert await journal.write(insert(4)) == 4  # the journal goes on
    rows = db.run_sync(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")])
    assert rows == [1, 4]
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    db.close()
