"""The PostgreSQL store: psycopg 3 on one pool per process, each store's units of work on its own thread.

Every store name ("lambkin", "queues", "events") is the same database; its units of work run one at a time
on the store's own worker thread, as on SQLite (one writer per file), so a service sees the same order of
transactions on either engine, and the event loop never blocks. Connections come from one psycopg_pool
ConnectionPool shared by the names and released when the last of them closes.

psycopg's errors are translated here, once, into the store's (`errors.py`): a unique violation is Conflict,
a full disk StorageFull, and a database that cannot be reached (down, restarting, connection lost, no
connection to be had) StoreUnavailable; each unit of work that met one was rolled back, or never began.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import re
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, NoReturn, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from lambkin.loop_cpu import unpinned
from lambkin.store.contract import Connection, Row
from lambkin.store.errors import Conflict, DatabaseUnreachable, StorageFull, StoreError, StoreUnavailable
from lambkin.store.migrations import LEDGER, RECORD, Migration, pending
from lambkin.store.worker import OneThread

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5  # a connection attempt gives up after this (libpq's connect_timeout, unless the URL's)
ACQUIRE_TIMEOUT_S = 2.0  # a unit of work waits this long for a connection before StoreUnavailable
AWAY_S = 1.0  # after a StoreUnavailable, units of work fail at once for this long, none waiting in turn
RECONNECT_S = 10.0  # the pool's reconnection back-off starts again from 1 s after this: a prompt recovery
POOL_SIZE = 8  # a connection kept by each store name's worker (lambkin, queues, events, metrics), and spares
MAX_LIFETIME_S = 1800.0  # the pool closes a connection older than this (with a jitter) when it comes back
HOLD_S = 60.0  # a worker hands its kept connection back this often, so that the pool's lifetime applies to it
# libpq's settings that end a TCP connection to a host gone without a word (powered off, cut off by the
# network): the kernel's defaults would wait hours on an idle connection and a quarter of an hour on a unit
# of work's unacknowledged bytes, every request behind it waiting as long. Sent bytes unacknowledged for
# 10 s, or an idle connection's keepalives unanswered from 10 s on (three, 2 s apart), end it: the unit
# fails StoreUnavailable, the bus reconnects. A URL's own values are kept; a unix socket has none of these.
LIVENESS = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}
_MIGRATION_LOCK = 0x6C616D626B696E  # pg_advisory_xact_lock key: "lambkin", so nodes migrate one at a time

# `?` outside quoted strings and names is a placeholder; PostgreSQL's own are numbered: `$1`, `$2`, ...
_MARKS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\?""")


@functools.lru_cache(maxsize=2048)
def placeholders(sql: str) -> str:
    """`sql` with the seam's `?` placeholders as PostgreSQL's `$1`, `$2`, ... in order.

    The statements go through psycopg's RawCursor, which sends them as they are: psycopg parses no query
    text of ours (its own `%s` parsing caches no statement of more than 50 parameters, and a batch's
    multi-row INSERT has more)."""
    numbers = itertools.count(1)

    def mark(match: re.Match[str]) -> str:
        text = match.group(0)
        return f"${next(numbers)}" if text == "?" else text

    return _MARKS.sub(mark, sql)


class PgRow:
    """A result row by position and by column name, as sqlite3.Row is."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"PgRow({tuple(self._values)!r})"


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    """psycopg asks this of every statement's result, rows or none: a write's (most of a queue batch's
    statements) needs no index of columns, whose making was a tenth of the queue store thread's time."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return _no_columns
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, index)


def _no_columns(values: Sequence[Any]) -> Row:
    return PgRow(values, {})


class PgConnection:
    """The seam's Connection over one psycopg connection inside a unit of work."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Row]:
        try:
            if parameters:
                return self._conn.execute(placeholders(sql), parameters)
            return self._conn.execute(sql)
        except psycopg.Error as exc:
            reraise(exc)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Row]:
        cursor = self._conn.cursor()
        try:
            cursor.executemany(placeholders(sql), parameters)
        except psycopg.Error as exc:
            reraise(exc)
        return cursor


def reraise(exc: psycopg.Error) -> NoReturn:
    """psycopg's error raised as the store's (`exc` its cause), or as it is for a fault of the SQL (a bug)."""
    error = _store_error(exc)
    if error is None:
        raise exc
    raise error from exc


def _store_error(exc: psycopg.Error) -> StoreError | None:
    if isinstance(exc, pg_errors.UniqueViolation):
        return Conflict(exc.diag.message_primary or str(exc))
    if isinstance(exc, pg_errors.DiskFull):
        return StorageFull(
            "The disk of lambkin's PostgreSQL database is full: nothing was changed. "
            "Retry once space is freed on that disk."
        )
    if isinstance(exc, PoolTimeout):
        return StoreUnavailable(f"no connection could be had within {ACQUIRE_TIMEOUT_S:g} s")
    if isinstance(exc, pg_errors.AdminShutdown | pg_errors.CrashShutdown | pg_errors.CannotConnectNow):
        return StoreUnavailable("it is shutting down or starting up")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return StoreUnavailable("the connection to it was lost")
    return None


def _stale(conn: psycopg.Connection[Row]) -> bool:
    """Whether the server ended this idle connection (a shutdown or restart leaves its farewell waiting on the
    socket): found without a round trip, so that no unit of work fails on a connection known to be gone."""
    if conn.closed:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def watched(url: str) -> str:
    """`url` with `LIVENESS`'s settings (and `connect_timeout`) where it gives none of its own; raises
    DatabaseUnreachable if it is not a connection string. Every connection of the store and the bus is made
    from such a URL, so its values are the ones every connection gets."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise _unreachable(url, exc) from exc
    added = {name: value for name, value in LIVENESS.items() if name not in given}
    if "connect_timeout" not in given:
        added["connect_timeout"] = str(CONNECT_TIMEOUT_S)
    return make_conninfo(url, **added)


def where(url: str) -> str:
    """The database a URL names, without its password: `user@host:port/dbname`."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(a URL that is not a PostgreSQL connection string)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{parts.get('host') or 'localhost'}{port}/{parts.get('dbname') or ''}"


def in_schema(url: str, schema: str) -> str:
    """`url` with its connections' search_path `schema, public` (tables are created in `schema`, and its
    migrations' ledger with them; the cluster's tables in public stay visible), the schema created if absent."""
    if _SCHEMA.fullmatch(schema) is None:
        raise ValueError(f"not a schema lambkin makes: {schema!r}")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    given = conninfo_to_dict(url).get("options") or ""  # the operator's own options are kept
    return make_conninfo(url, options=f"{given} -csearch_path={schema},public".strip())


_SCHEMA = re.compile(r"[a-z][a-z0-9_]*")


def _probe(url: str) -> None:
    """One connection now, so a wrong URL, password or host stops the start with libpq's own reason."""
    try:
        with psycopg.connect(url):
            pass
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc


def _unreachable(url: str, exc: psycopg.Error) -> DatabaseUnreachable:
    """The start's one line for `url`: the database it names and libpq's reason, on one line."""
    return DatabaseUnreachable(where(url), " ".join(str(exc).split()) or type(exc).__name__)


def _configure(conn: psycopg.Connection[Row]) -> None:
    """Each new connection plans every statement for its own parameters and the tables as they are now.

    psycopg prepares a statement run often; PostgreSQL would then soon keep one generic plan of it, made
    while the table was small, where scanning it whole was the cheapest: the queue engine's tables start
    empty and grow (dead rows, between autovacuum's passes) to thousands of pages, and a kept plan that
    scans them whole made each of its statements cost milliseconds. A plan made per execution sees the
    table's size and uses its primary key; the prepared statement still saves the parsing."""
    conn.execute("SET plan_cache_mode = force_custom_plan")
    conn.commit()


class _SharedPool:
    """One ConnectionPool per database URL in this process, held by the stores open on it."""

    _lock = threading.Lock()
    _open: dict[str, _SharedPool] = {}  # this process's pools, by URL

    def __init__(self, url: str) -> None:
        self.url = url
        self.users = 0
        # The pool logs three INFO lines per unit of work; its warnings (reconnecting, giving up) are kept.
        logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
        with unpinned():  # the pool's threads (its workers, its scheduler) run on every CPU (loop_cpu.py)
            self.pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
                url,
                kwargs={
                    "row_factory": _rows,
                    "cursor_factory": psycopg.RawCursor,
                },
                configure=_configure,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=ACQUIRE_TIMEOUT_S,
                reconnect_timeout=RECONNECT_S,  # then a unit of work's wait starts a fresh attempt
                max_lifetime=MAX_LIFETIME_S,
                open=True,
            )

    @classmethod
    def acquire(cls, url: str) -> _SharedPool:
        with cls._lock:
            shared = cls._open.get(url)
            if shared is None:
                _probe(url)
                shared = cls._open[url] = _SharedPool(url)
            shared.users += 1
            return shared

    def release(self) -> None:
        with self._lock:
            self.users -= 1
            if self.users:
                return
            del self._open[self.url]
        self.pool.close()


class PostgresStore(OneThread):
    """One store name's units of work, on its own thread, over the process's pool for this database."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str, name: str, schema: str | None = None) -> None:
        self.name = name
        url = watched(url)
        self._shared = _SharedPool.acquire(url if schema is None else in_schema(url, schema))
        super().__init__(f"lambkin-pg-{name}")
        self._away: StoreUnavailable | None = None
        self._away_until = 0.0
        self._held: psycopg.Connection[Row] | None = None  # this thread's connection between units
        self._held_until = 0.0  # then it goes back to the pool, which ends it if it lived its lifetime

    def _transaction(self, fn: Callable[[Connection], T], pipelined: bool = False) -> T:
        if self._away is not None and time.monotonic() < self._away_until:
            raise StoreUnavailable(self._away.reason)
        try:
            result = self._attempts(fn, pipelined)
        except StoreUnavailable as exc:
            self._away, self._away_until = exc, time.monotonic() + AWAY_S
            raise
        self._away = None
        return result

    def _attempts(self, fn: Callable[[Connection], T], pipelined: bool) -> T:
        """The unit on this thread's connection, kept from its last unit that went well (checking one out of
        the pool and back in for each unit was a fifth of the queue store thread's time) for HOLD_S at most;
        a connection that failed goes back to the pool, which replaces it if it is broken."""
        pool = self._shared.pool
        if self._held is not None and time.monotonic() >= self._held_until:
            pool.putconn(self._held)
            self._held = None
        try:
            for _ in range(POOL_SIZE + 1):  # each stale connection is dropped; then a new one is made
                if self._held is None:
                    self._held_until = time.monotonic() + HOLD_S
                conn, self._held = self._held or pool.getconn(), None
                if _stale(conn):
                    conn.close()
                    pool.putconn(conn)
                    continue
                try:
                    result = self._unit(conn, fn, pipelined)
                except BaseException:
                    pool.putconn(conn)
                    raise
                self._held = conn
                return result
        except psycopg.Error as exc:
            reraise(exc)
        raise StoreUnavailable("every connection to it was ended")

    @staticmethod
    def _unit(conn: psycopg.Connection[Row], fn: Callable[[Connection], T], pipelined: bool) -> T:
        # psycopg begins the transaction with the unit's first statement (one round trip fewer than our own
        # BEGIN) and ends it here.
        try:
            if pipelined:
                with conn.pipeline():
                    result = fn(PgConnection(conn))
                    # COMMIT goes out behind the unit's statements and the pipeline's exit sends the Sync:
                    # PostgreSQL skips it if one of them failed (none sends a Sync of its own), and psycopg
                    # raises that statement's error. Not `conn.commit()`: inside a pipeline it waits for the
                    # results without first flushing what libpq still buffers (a unit of a megabyte on a busy
                    # machine left its tail unsent, and both sides waited for ever); the exit flushes it all.
                    conn.execute("COMMIT", prepare=False)
                return result
            result = fn(PgConnection(conn))
            if conn.info.transaction_status == TransactionStatus.INERROR:
                # A statement failed and `fn` went on: COMMIT would quietly roll back what it was told is done.
                raise RuntimeError("a statement of this unit of work failed, so it was rolled back")
            conn.commit()
        except BaseException:
            if not conn.broken:
                conn.rollback()
            raise
        return result

    async def run_pipelined(self, fn: Callable[[Connection], T]) -> T:
        """Statements go out without waiting for their results; the commit (sent with a Sync) raises the first
        statement's error, and nothing after that statement was committed."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, fn, True)

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Every pending step in one transaction (PostgreSQL's DDL is transactional), under an advisory lock
        so that nodes starting at once migrate one after the other."""

        def apply(conn: Connection) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            conn.execute(LEDGER)
            applied = [(r[0], r[1]) for r in conn.execute("SELECT namespace, version FROM schema_migrations")]
            for step in pending(migrations, applied):
                for statement in step.statements(self.dialect):
                    conn.execute(statement)
                conn.execute(RECORD, (step.namespace, step.version))

        try:
            self.run_sync(apply)
        except pg_errors.InsufficientPrivilege as exc:  # a role that may connect but not create its tables
            reason = f"{exc.diag.message_primary}; lambkin's role must own the database (createdb --owner)"
            raise DatabaseUnreachable(where(self._shared.url), reason) from exc

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._held is not None:
            self._shared.pool.putconn(self._held)
            self._held = None
        self._shared.release()
