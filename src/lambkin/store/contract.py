"""The store seam: what a service may ask of a connection, a cursor, a row and the store that runs its work.

SQL is written once, in the subset both SQLite and PostgreSQL run: `?` placeholders, `INSERT ... ON CONFLICT
(cols) DO NOTHING / DO UPDATE SET col = excluded.col`, `RETURNING` (never `lastrowid`), `COALESCE`, `LIMIT n`,
no engine functions (`strftime`, `json_*`, `datetime`), no `rowid`, and values of the column's own type
(ints as int, never a bool into an INTEGER column). SQLite's own connection, cursor and row are these
protocols as they are (no wrapper, so SQLite stays as fast as it was); PostgreSQL's adapter (`postgres.py`)
implements them over psycopg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeVar

from lambkin.store.migrations import Migration

T = TypeVar("T")
Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """One result row, by position and by column name (as sqlite3.Row)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """The result of one statement: its rows, and how many rows a write changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    """The open connection of one `Store.run` transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


class Store(Protocol):
    """Runs units of work: `run(fn)` calls `fn(connection)` inside one transaction off the event loop,
    committed if `fn` returns, rolled back if it raises (then a StoreError for a fault of the store itself:
    `errors.py`). Nothing a caller is told "yes" about is acknowledged before that commit."""

    @property
    def dialect(self) -> Dialect: ...

    async def run(self, fn: Callable[[Connection], T]) -> T: ...

    async def run_pipelined(self, fn: Callable[[Connection], T]) -> T:
        """`run`, but PostgreSQL sends the unit's statements without waiting for each one's result (pipeline
        mode: a round trip only where `fn` reads rows, and for the commit). A statement that fails raises
        where `fn` next reads rows, or at the commit, so nothing is committed after it; `fn` must not catch
        a store error and go on. On SQLite, `run` itself."""
        ...

    def run_sync(self, fn: Callable[[Connection], T]) -> T:
        """For start-up and tools that have no event loop."""
        ...

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Applies every migration not yet applied, each in its own transaction, in version order; raises
        SchemaTooNew when the database holds a step of a namespace that this code does not know."""
        ...

    def close(self) -> None: ...
