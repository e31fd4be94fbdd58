"""Fixtures for the queue engine's unit tests: a manual clock and a running QueueService on a temp file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.queues.service import QueueService, open_queue_service
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@contextlib.asynccontextmanager
async def running(path: Path, clock: ManualClock) -> AsyncIterator[QueueService]:
    service = open_queue_service(SqliteStore(path), "us-east-1", "123456789012", clock)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        service.db.close()


@pytest.fixture
async def service(tmp_path: Path, clock: ManualClock) -> AsyncIterator[QueueService]:
    async with running(tmp_path / "queues.db", clock) as svc:
        yield svc
