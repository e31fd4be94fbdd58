"""A failed start's limits and the lines it logs for the caller's request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.environments.init_failure import (
    FailedStart,
    InitFailed,
    InitFailure,
    init_attempts,
)
from lambkin.environments.results import platform_error
from lambkin.logs.store import LogStore
from lambkin.logs.stream import LogStream


def test_on_demand_init_has_ten_seconds_then_a_retry_within_the_functions_timeout() -> None:
    assert init_attempts(False, 3.0) == (("init", 10.0), ("invoke", 3.0))
    assert init_attempts(False, 900.0) == (("init", 10.0), ("invoke", 900.0))


@pytest.mark.parametrize(
    ("timeout_s", "limit_s"), [(3.0, 130.0), (130.0, 130.0), (600.0, 600.0), (900.0, 900.0)]
)
def test_provisioned_init_has_130_seconds_or_the_functions_timeout_whichever_is_higher(
    timeout_s: float, limit_s: float
) -> None:
    assert init_attempts(True, timeout_s) == (("init", limit_s),)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    store = LogStore(tmp_path / "logs")
    yield store
    store.close()


def stored(store: LogStore) -> list[str]:
    store.flush()
    return [e.message for e in store.events("g", "s")]


def failed_start(store: LogStore) -> FailedStart:
    return FailedStart(LogStream(store, "g", "s"), "$LATEST", 256, 41, 123.4)


def test_an_exit_in_init_logs_start_the_exit_end_and_an_error_report(store: LogStore) -> None:
    failure = InitFailed(InitFailure.EXIT, "exit status 3", log_tail=b"INIT_REPORT ...\n")
    failure.start = failed_start(store)
    tail = failure.report("r1", 3.0).decode()
    assert tail == (
        "INIT_REPORT ...\n"
        "START RequestId: r1 Version: $LATEST\n"
        "RequestId: r1 Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n"
        "END RequestId: r1\n"
        "REPORT RequestId: r1\tDuration: 123.40 ms\tBilled Duration: 124 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 41 MB\tStatus: error\tError Type: Runtime.ExitError\t\n"
    )
    # the function's log stream has the caller's lines (the failed init's are already there)
    assert stored(store) == [
        "START RequestId: r1 Version: $LATEST",
        "RequestId: r1 Error: Runtime exited with error: exit status 3\nRuntime.ExitError",
        "END RequestId: r1",
        tail.splitlines()[-1],
    ]


def test_an_init_error_reports_the_runtimes_error_type(store: LogStore) -> None:
    error = platform_error("Runtime.ImportModuleError", "no module")
    failure = InitFailed(InitFailure.ERROR, "init error", error, start=failed_start(store))
    lines = failure.report("r1", 3.0).decode().splitlines()
    assert lines[0] == "START RequestId: r1 Version: $LATEST"
    assert lines[1] == "END RequestId: r1"
    assert lines[2].endswith("\tStatus: error\tError Type: Runtime.ImportModuleError\t")


def test_an_init_timeout_reports_a_timeout_of_the_functions_timeout(store: LogStore) -> None:
    failure = InitFailed(InitFailure.TIMEOUT, "init timed out", start=failed_start(store))
    lines = failure.report("r1", 3.0).decode().splitlines()
    assert lines[0] == "START RequestId: r1 Version: $LATEST"
    assert lines[1].endswith(" r1 Task timed out after 3.00 seconds")
    assert lines[2] == "END RequestId: r1"
    assert lines[3].startswith("REPORT RequestId: r1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t")
    assert lines[3].endswith("\tStatus: timeout\t")
    assert stored(store)[0] == "START RequestId: r1 Version: $LATEST"


def test_a_failure_before_any_sandbox_logs_nothing(store: LogStore) -> None:
    failure = InitFailed(InitFailure.SANDBOX, "no space", log_tail=b"")
    assert failure.report("r1", 3.0) == b""
    assert stored(store) == []
