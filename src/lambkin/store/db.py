"""The SQLite database: one connection on one worker thread, transactions, and schema migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    """One step of one part's schema. Each part (images, functions, ...) numbers its own steps from 1."""

    namespace: str
    version: int
    sql: str


class DamagedDatabase(Exception):
    """A database file SQLite cannot read as the database it should be: which file, and how to recover."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path} is damaged ({reason}), so lambkin cannot start on it. To recover, stop lambkin and either "
            f"restore the file from a backup, or move it aside (with its -wal and -shm files, if any) so that "
            f"lambkin starts on a new, empty one; `sqlite3 {path} .recover` may save what is still readable."
        )
        self.path = path


_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


class StorageFull(Exception):
    """A write the disk had no room for: the transaction was rolled back, nothing changed, a retry may pass.
    A domain error (protocol/errors.py) every service answers as its own retryable server fault."""

    code = "ServiceUnavailable"
    status = 503

    def __init__(self, path: Path) -> None:
        self.message = (
            f"The disk holding {path.parent} is full: {path.name} could not be written, and nothing was "
            "changed. Retry once space is freed on that disk."
        )
        super().__init__(self.message)


def disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised while handling, is SQLite's SQLITE_FULL."""
    while exc is not None:
        if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL":
            return True
        exc = exc.__context__
    return False


class Database:
    """All access goes through one thread, so the event loop never blocks and writes never contend.

    `run(fn)` calls `fn(connection)` inside a transaction on that thread: committed if `fn` returns,
    rolled back if it raises. WAL mode makes a committed transaction survive `kill -9` of the server.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambkin-sqlite")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._connect()
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled it back itself (a full disk does)
                conn.execute("ROLLBACK")
            if disk_full(exc):
                raise StorageFull(self.path) from exc
            raise
        return result

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, fn)

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """For start-up and tools that have no event loop."""
        return self._executor.submit(self._transaction, fn).result()

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Applies every migration not yet applied, each in its own transaction, in version order."""

        def applied(conn: sqlite3.Connection) -> set[tuple[str, int]]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " namespace TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, version))"
            )
            return {(r[0], r[1]) for r in conn.execute("SELECT namespace, version FROM schema_migrations")}

        done = self._opening(applied)
        for step in sorted(migrations, key=lambda m: (m.namespace, m.version)):
            if (step.namespace, step.version) in done:
                continue

            def apply(conn: sqlite3.Connection, step: Migration = step) -> None:
                for statement in step.sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (namespace, version) VALUES (?, ?)",
                    (step.namespace, step.version),
                )

            self._opening(apply)

    def _opening(self, fn: Callable[[sqlite3.Connection], T]) -> T:
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
