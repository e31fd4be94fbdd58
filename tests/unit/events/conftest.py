"""Fixtures for the mapping unit tests: the real store on a temp file behind a MappingService with fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.events.mapping_service import MappingService
from lambkin.events.mapping_store import MIGRATIONS, MappingStore
from lambkin.store import Store
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests.unit.events.fakes import Functions, find_queue


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    database = SqliteStore(tmp_path / "lambkin.db")
    database.migrate(MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def service(db: Store) -> MappingService:
    return MappingService(MappingStore(db), Functions(), find_queue, "arn:esm:", ManualClock(100.0))
