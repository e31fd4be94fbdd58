"""Fixtures the end-to-end tests share: a patient Lambda client and the python-handlers image."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config

from tests.harness import LambkinServer
from tests.images import BuiltImages


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    """A Lambda client that waits for cold starts and slow handlers and never retries behind a test's back."""
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def handlers_uri(server: LambkinServer, test_images: BuiltImages) -> str:
    """python-handlers (tests/images) pushed to the module's server: app.echo, app.error, app.timeout, ..."""
    return test_images.push("python-handlers", server.registry, tag="v1")
