"""Shared fixtures: a running lambkin server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import LambkinServer
from tests.images import BuiltImages, build_all


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A `lambkin server` subprocess with a fresh data directory, shared by one test module."""
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data").start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def test_images() -> BuiltImages:
    """The test images of tests/images (python-echo, python-handlers, shell-runtime, busybox, ...), built once.

    Cached across runs under .cache/images; `test_images.path(name)`, `.push(name, server.registry)`,
    `.rootfs(name)`, `.layout_ref(name)`, `.digest(name)`, `.rie()`.
    """
    build_all()
    return BuiltImages()
