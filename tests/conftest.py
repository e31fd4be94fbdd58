"""Shared fixtures: a running lambkin server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import LambkinServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A `lambkin server` subprocess with a fresh data directory, shared by one test module."""
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data").start()
    try:
        yield instance
    finally:
        instance.stop()
