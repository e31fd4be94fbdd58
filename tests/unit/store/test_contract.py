"""The store's contract, the same on SQLite and PostgreSQL: units of work, rows, conflicts, migrations."""

from __future__ import annotations

import pytest

from lambkin.store import Conflict, Connection, Migration, SchemaTooNew, Store

TABLE = Migration(
    "things", 1, "CREATE TABLE things (name TEXT PRIMARY KEY, size INTEGER NOT NULL, body BLOB)"
)


def names(store: Store) -> list[str]:
    return store.run_sync(
        lambda conn: [r["name"] for r in conn.execute("SELECT name FROM things ORDER BY name")]
    )


def test_a_unit_of_work_that_returns_is_committed(store: Store) -> None:
    store.migrate([TABLE])
    store.run_sync(lambda conn: conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 1)))
    assert names(store) == ["a"]


def test_a_unit_of_work_that_raises_leaves_nothing_behind(store: Store) -> None:
    store.migrate([TABLE])

    def half(conn: Connection) -> None:
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 1))
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        store.run_sync(half)
    assert names(store) == []


async def test_run_gives_back_what_the_unit_returned(store: Store) -> None:
    store.migrate([TABLE])
    inserted = await store.run(
        lambda conn: conn.execute(
            "INSERT INTO things (name, size, body) VALUES (?, ?, ?) RETURNING name, size, body",
            ("a", 7, b"\x00\xff"),
        ).fetchone()
    )
    assert inserted is not None
    assert (inserted[0], inserted["size"], bytes(inserted["body"])) == ("a", 7, b"\x00\xff")
    assert list(inserted) == ["a", 7, b"\x00\xff"]
    assert len(inserted) == 3 and list(inserted.keys()) == ["name", "size", "body"]


def test_a_duplicate_key_is_a_conflict_and_rolls_the_unit_back(store: Store) -> None:
    store.migrate([TABLE])
    store.run_sync(lambda conn: conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 1)))

    def twice(conn: Connection) -> None:
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("b", 1))
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 2))

    with pytest.raises(Conflict):
        store.run_sync(twice)
    assert names(store) == ["a"]


def test_on_conflict_and_rowcount_are_portable(store: Store) -> None:
    store.migrate([TABLE])
    upsert = (
        "INSERT INTO things (name, size) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET size = excluded.size"
    )
    skip = "INSERT INTO things (name, size) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"

    def work(conn: Connection) -> tuple[int, int, int, int]:
        assert conn.executemany(upsert, [("a", 1), ("b", 2)]).rowcount == 2
        conn.execute(upsert, ("a", 10))
        skipped = conn.execute(skip, ("b", 20)).rowcount
        updated = conn.execute("UPDATE things SET size = size + 1 WHERE size >= ?", (2,)).rowcount
        row = conn.execute("SELECT size FROM things WHERE name = ?", ("a",)).fetchone()
        assert row is not None
        return skipped, updated, row[0], len(conn.execute("SELECT * FROM things").fetchall())

    assert store.run_sync(work) == (0, 2, 11, 2)


def test_question_marks_and_percent_signs_inside_strings_are_text(store: Store) -> None:
    store.migrate([TABLE])

    def work(conn: Connection) -> list[str]:
        conn.execute("INSERT INTO things (name, size) VALUES ('what?', ?)", (1,))
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("100%", 2))
        rows = conn.execute(
            "SELECT name FROM things WHERE name LIKE '%?' OR name LIKE ? ORDER BY size", ("1%",)
        )
        return [r[0] for r in rows]

    assert store.run_sync(work) == ["what?", "100%"]


def test_savepoints_roll_one_write_back_and_keep_the_others(store: Store) -> None:
    store.migrate([TABLE])

    def work(conn: Connection) -> None:
        conn.execute("SAVEPOINT w")
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("kept", 1))
        conn.execute("RELEASE w")
        conn.execute("SAVEPOINT w")
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("undone", 1))
        conn.execute("ROLLBACK TO w")
        conn.execute("RELEASE w")

    store.run_sync(work)
    assert names(store) == ["kept"]


def test_migrations_are_applied_once_in_order(store: Store) -> None:
    steps = [
        Migration("things", 2, "ALTER TABLE things ADD COLUMN weight REAL"),
        TABLE,
        Migration("other", 1, "CREATE TABLE other (id INTEGER PRIMARY KEY)"),
    ]
    store.migrate(steps)
    store.migrate(steps)  # nothing left to do: a second CREATE TABLE would fail
    store.run_sync(lambda conn: conn.execute("INSERT INTO things VALUES (?, ?, ?, ?)", ("a", 1, None, 2.5)))
    ledger = store.run_sync(
        lambda conn: [
            tuple(r) for r in conn.execute("SELECT namespace, version FROM schema_migrations ORDER BY 1, 2")
        ]
    )
    assert ledger == [("other", 1), ("things", 1), ("things", 2)]


def test_a_dialects_own_ddl_replaces_the_portable_one(store: Store) -> None:
    store.migrate([Migration("t", 1, "CREATE TABLE t (v INTEGER)", postgresql="CREATE TABLE t (v SMALLINT)")])
    store.run_sync(lambda conn: conn.execute("INSERT INTO t (v) VALUES (?)", (3,)))
    assert store.run_sync(lambda conn: conn.execute("SELECT v FROM t").fetchall()[0][0]) == 3


def test_a_database_of_a_newer_schema_is_refused(store: Store) -> None:
    store.migrate([TABLE, Migration("things", 2, "ALTER TABLE things ADD COLUMN weight REAL")])
    with pytest.raises(SchemaTooNew, match=r"step 2 of 'things'.*up to 1"):
        store.migrate([TABLE])


async def test_a_pipelined_unit_reads_its_rows_and_commits(store: Store) -> None:
    store.migrate([TABLE])

    def unit(conn: Connection) -> list[str]:
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 1))
        conn.executemany("INSERT INTO things (name, size) VALUES (?, ?)", [("b", 2), ("c", 3)])
        return [
            r["name"] for r in conn.execute("SELECT name FROM things WHERE size >= ? ORDER BY name", (2,))
        ]

    assert await store.run_pipelined(unit) == ["b", "c"]
    assert names(store) == ["a", "b", "c"]


async def test_a_pipelined_unit_whose_statement_fails_commits_nothing_after_it(store: Store) -> None:
    store.migrate([TABLE])
    store.run_sync(lambda conn: conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 1)))

    def unit(conn: Connection) -> None:
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("b", 1))
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 2))  # fails; nothing waits for it
        conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("c", 1))

    with pytest.raises(Conflict):
        await store.run_pipelined(unit)
    assert names(store) == ["a"]
    await store.run_pipelined(
        lambda conn: conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("d", 1))
    )
    assert names(store) == ["a", "d"]
