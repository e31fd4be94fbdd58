"""Persistence: SQLite (WAL) behind small repository classes, with per-part schema migrations."""
