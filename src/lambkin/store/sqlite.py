"""The SQLite store: one file, one connection on one worker thread, transactions, and schema migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from lambkin.store.contract import Connection
from lambkin.store.errors import Conflict, DamagedDatabase, StorageFull, fatal
from lambkin.store.migrations import LEDGER, RECORD, Migration, pending
from lambkin.store.worker import OneThread

T = TypeVar("T")

_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_CONFLICT = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


class SqliteStore(OneThread):
    """All access goes through one thread, so the event loop never blocks and writes never contend.

    `run(fn)` calls `fn(connection)` inside a transaction on that thread: committed if `fn` returns,
    rolled back if it raises. WAL mode makes a committed transaction survive `kill -9` of the server.
    The connection `fn` gets is sqlite3's own: it is the seam's Connection as it is.
    """

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__("lambkin-sqlite")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        return conn

    def _transaction(self, fn: Callable[[Connection], T]) -> T:
        conn = self._conn or self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled it back itself (a full disk does)
                conn.execute("ROLLBACK")
            if fatal(exc):
                raise StorageFull.file(self.path) from exc
            if getattr(exc, "sqlite_errorname", None) in _CONFLICT:
                raise Conflict(str(exc)) from exc
            raise
        return result

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Applies every migration not yet applied, each in its own transaction, in version order."""

        def applied(conn: Connection) -> list[tuple[str, int]]:
            conn.execute(LEDGER)
            return [(r[0], r[1]) for r in conn.execute("SELECT namespace, version FROM schema_migrations")]

        for step in pending(migrations, self._opening(applied)):

            def apply(conn: Connection, step: Migration = step) -> None:
                for statement in step.statements(self.dialect):
                    conn.execute(statement)
                conn.execute(RECORD, (step.namespace, step.version))

            self._opening(apply)

    def _opening(self, fn: Callable[[Connection], T]) -> T:
        """`run_sync` at start-up, where a file that is not the database it should be is DamagedDatabase."""
        try:
            return self.run_sync(fn)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", None) in _DAMAGED:
                raise DamagedDatabase(self.path, str(exc)) from exc
            if "already exists" in str(exc):  # a table its recorded migrations say was never made
                raise DamagedDatabase(
                    self.path, f"its tables do not match its recorded migrations: {exc}"
                ) from exc
            raise

    def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)
