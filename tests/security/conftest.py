"""Fixtures of the security probes: a sandbox backend and the python-handlers image's root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.sandbox.runc import RuncBackend
from tests.images import BuiltImages


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[RuncBackend]:
    backend = RuncBackend(tmp_path / "data")
    yield backend
    await backend.cleanup_leftovers()


@pytest.fixture(scope="session")
def python_root(test_images: BuiltImages) -> Path:
    return test_images.rootfs("python-handlers")
