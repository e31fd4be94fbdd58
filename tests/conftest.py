"""Shared fixtures: a running lambkin server per test module."""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from lambkin.sandbox import overlay
from tests.harness import LambkinServer
from tests.images import BuiltImages, build_all


@pytest.fixture(scope="session", autouse=True)
def no_sandbox_mount_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A read-only sandbox root still mounted under pytest's temporary directories would make pytest's own
    clean-up crash after the last test; such a leak is reported and detached instead. Only this session's
    directory and those pytest is about to delete are looked at: a session running beside this one keeps its
    mounts."""
    yield
    current = tmp_path_factory.getbasetemp()
    for point in overlay.mounts_under(current.parent):
        session = point.relative_to(current.parent).parts[0]
        if session != current.name and not _removed_by_pytest(current.parent / session, current.name):
            continue
        print(f"\nleaked sandbox mount (detached at session end): {point}", file=sys.stderr)
        try:
            overlay.unmount(point, lazy=True)
        except OSError as exc:
            print(f"could not detach {point}: {exc}", file=sys.stderr)


def _removed_by_pytest(session: Path, current: str, keep: int = 3) -> bool:
    """Whether pytest's clean-up at exit deletes the numbered directory `session`: it keeps the newest 3, and
    any whose session still runs (its `.lock`, removed at that session's exit: a CI run beside a developer's
    must keep the tmpfs and overlays its tests mounted)."""
    if (session / ".lock").exists():
        return False
    number, mine = session.name.removeprefix("pytest-"), current.removeprefix("pytest-")
    if session.name.startswith("garbage-"):
        return True
    return number.isdigit() and mine.isdigit() and int(number) <= int(mine) - keep


# The tests whose clients talk to lambkin servers in other processes: a socket they leave unclosed is the
# test's client's, never lambkin's (whose own leaks the unit tests, in this process, still turn into errors).
CLIENT_SIDE = ("tests/e2e/", "tests/cluster/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A client connection of an end-to-end test may be collected unclosed (a server killed under its
    clients, a response a test did not read to the end): its ResourceWarning is not about lambkin."""
    for item in items:
        if item.nodeid.startswith(CLIENT_SIDE):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))


@pytest.fixture(scope="module", autouse=True)
def client_sockets_collected(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of an end-to-end module, a full collection frees the client sockets it left, so that none
    is collected, and reported, in a later module whose warnings count (a CI run failed so, in the setup of
    the next module's first test)."""
    yield
    if request.node.nodeid.startswith(CLIENT_SIDE):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


@pytest.fixture(scope="module", autouse=True)
def image_stores_dropped() -> Iterator[None]:
    """At the end of each module, the servers it stopped give back their image stores' disk."""
    yield
    LambkinServer.drop_image_stores()


SERVER_LOG_LINES = 60


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambkinServer]:
    """A `lambkin server` subprocess with a fresh data directory, shared by one test module; when one of the
    module's tests failed, the end of the server's log is printed (CI keeps nothing else)."""
    failed = request.session.testsfailed
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data").start()
    try:
        yield instance
    finally:
        instance.stop()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if request.session.testsfailed > failed and reporter is not None:
            reporter.write_line(
                f"--- {request.module.__name__}: the server's log, its last {SERVER_LOG_LINES} lines"
            )
            reporter.write_line("\n".join(instance.log().splitlines()[-SERVER_LOG_LINES:]))


@pytest.fixture(scope="session")
def test_images() -> BuiltImages:
    """The test images of tests/images (python-echo, python-handlers, shell-runtime, busybox, ...), built once.

    Cached across runs under .cache/images; `test_images.path(name)`, `.push(name, server.registry)`,
    `.rootfs(name)`, `.layout_ref(name)`, `.digest(name)`, `.rie()`.
    """
    build_all()
    return BuiltImages()


# Property tests: `make test` draws the same examples on every run and every clone (a failure there is a
# failure of the change, never of the draw); `make fuzz` (--hypothesis-profile=fuzz) draws new ones, more.
# Neither times the draws or the examples: on a loaded machine that would fail a change for the load.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, max_examples=200, print_blob=True, **_UNTIMED)
settings.register_profile("fuzz", derandomize=False, max_examples=2000, print_blob=True, **_UNTIMED)
settings.load_profile("ci")  # the pytest option --hypothesis-profile, if given, loads its profile after this
