"""Persistence behind one seam: SQLite files by default, PostgreSQL when a database URL is set; migrations."""

from lambkin.store.contract import Connection, Cursor, Dialect, Row, Store
from lambkin.store.errors import (
    Conflict,
    DamagedDatabase,
    DatabaseUnreachable,
    SchemaTooNew,
    StorageFull,
    StoreError,
    StoreUnavailable,
    fatal,
)
from lambkin.store.migrations import Migration
from lambkin.store.opening import open_store

__all__ = [
    "Conflict",
    "Connection",
    "Cursor",
    "DamagedDatabase",
    "DatabaseUnreachable",
    "Dialect",
    "Migration",
    "Row",
    "SchemaTooNew",
    "StorageFull",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "fatal",
    "open_store",
]
