"""The cluster tests' fixtures: a cluster per test module (tests/cluster), python-handlers pushed to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from tests.cluster import Cluster
from tests.images import BuiltImages

# Where images are pushed and what function images name; never the node a test kills.
REGISTRY_NODE = "node-1"
LOG_LINES = 40  # of each node's log, shown when a test of the module failed


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running cluster for the module; when one of its tests failed, where its nodes' logs are is said."""
    failed = request.session.testsfailed
    running = Cluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield running
    finally:
        running.stop()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if request.session.testsfailed > failed and reporter is not None:  # pytest may soon remove the files
            for name, log in [
                *((n, node.log()) for n, node in running.nodes.items()),
                ("haproxy", running.haproxy.log()),
            ]:
                reporter.write_line(f"--- {name}, the last of its log:")
                reporter.write_line("\n".join(log.splitlines()[-LOG_LINES:]))


@pytest.fixture(scope="module")
def handlers_uri(cluster: Cluster, test_images: BuiltImages) -> str:
    """python-handlers pushed to one node's registry (the catalog is the cluster's: every node runs it)."""
    return test_images.push("python-handlers", cluster.nodes[REGISTRY_NODE].registry, tag="v1")


@pytest.fixture(scope="module")
def lam(cluster: Cluster) -> Any:
    """A Lambda client through HAProxy that waits for cold starts and never retries behind a test's back."""
    return cluster.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
