"""Fixtures for the store's contract tests: one test, two backends (an SQLite file, a fresh PostgreSQL database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.store import Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from tests import postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "test.db")
    else:
        opened = PostgresStore(postgres.shared().create_database(), "test")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def private_postgres() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL of this test alone, which it may stop and start."""
    server = postgres.PostgresServer().start()
    try:
        yield server
    finally:
        server.remove()
