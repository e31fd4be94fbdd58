"""How a start ends badly: Lambda's init limits, the failure the caller receives, and the lines Lambda logs for
the caller's request whose start failed."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import assert_never

from lambkin.environments.results import (
    RUNTIME_INVALID_ENTRYPOINT,
    SANDBOX_FAILURE,
    FunctionError,
    exit_error,
    invalid_entrypoint_error,
    platform_error,
    timeout_error,
)
from lambkin.logs import lines
from lambkin.logs.stream import LogStream

INIT_LIMIT_S = 10.0
# Provisioned concurrency (and SnapStart): "130 seconds or the configured function timeout (maximum 900
# seconds), whichever is higher" (Understanding the Lambda execution environment lifecycle, Init phase).
PROVISIONED_INIT_LIMIT_S = 130.0


def init_attempts(provisioned: bool, timeout_s: float) -> tuple[tuple[str, float], ...]:
    """The (INIT_REPORT phase, limit in seconds) of each attempt at one start. On demand: Lambda's 10 s,
    then one retry within the invocation bounded by the function's timeout (a suppressed init). Provisioned
    concurrency: one init with the longer limit (a failure is retried later, not by a caller)."""
    if provisioned:
        return (("init", max(PROVISIONED_INIT_LIMIT_S, timeout_s)),)
    return (("init", INIT_LIMIT_S), ("invoke", max(timeout_s, 1.0)))


class InitFailure(enum.Enum):
    """How an init ended badly: the runtime reported an error, exited, could not be started at all (no
    bootstrap, an entrypoint missing or not executable), ran out of time, or the sandbox failed."""

    ERROR = "error"
    EXIT = "exit"
    ENTRYPOINT = "entrypoint"
    TIMEOUT = "timeout"
    SANDBOX = "sandbox"


@dataclass(frozen=True, slots=True)
class FailedStart:
    """The environment whose start failed, as the caller's REPORT line needs it."""

    logs: LogStream
    version: str
    memory_mb: int
    max_memory_mb: int
    duration_ms: float  # the attempt's init


class InitTimedOut(Exception):
    """The runtime did not ask for its first event within the init limit."""

    def __init__(self, start: FailedStart) -> None:
        super().__init__("init timed out")
        self.start = start


class InitFailed(Exception):
    """Init ended in an error the triggering caller must see (init error, exit, timeout, sandbox failure)."""

    def __init__(
        self,
        kind: InitFailure,
        detail: str,
        error: FunctionError | None = None,
        log_tail: bytes = b"",
        refusal: Exception | None = None,
        start: FailedStart | None = None,
    ) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.error = error
        self.log_tail = log_tail
        self.refusal = refusal  # lambkin refused the start (no credentials for the role): the caller's error
        self.start = start  # the environment it failed in, if a sandbox was made

    def outcome(self, request_id: str, timeout_s: float) -> FunctionError:
        if self.error is not None:
            return self.error
        match self.kind:
            case InitFailure.EXIT:
                return exit_error(request_id, self.detail)
            case InitFailure.ENTRYPOINT:
                return invalid_entrypoint_error(request_id, self.detail)
            case InitFailure.TIMEOUT:
                return timeout_error(request_id, timeout_s)
            case InitFailure.ERROR | InitFailure.SANDBOX:
                return platform_error(SANDBOX_FAILURE, f"RequestId: {request_id} Error: {self.detail}")
            case _:
                assert_never(self.kind)

    def report(self, request_id: str, timeout_s: float) -> bytes:
        """Writes the caller's START, END and REPORT lines after the failed init's, as Lambda does (a timeout's
        with `Status: timeout`, others with `Status: error` and the error type); returns the caller's tail."""
        start = self.start
        if start is None:
            return self.log_tail
        logs = start.logs
        logs.carry(self.log_tail)
        logs.platform(lines.start_line(request_id, start.version))
        duration_ms, status, error_type = start.duration_ms, "error", None
        match self.kind:
            case InitFailure.TIMEOUT:
                now = datetime.datetime.now(datetime.UTC)
                logs.platform(lines.timeout_line(now, request_id, timeout_s))
                duration_ms, status = timeout_s * 1000, "timeout"
            case InitFailure.EXIT:
                logs.platform(lines.exit_line(request_id, self.detail))
                error_type = self.outcome(request_id, timeout_s).error_type
            case InitFailure.ENTRYPOINT:
                logs.platform(lines.error_line(request_id, self.detail, RUNTIME_INVALID_ENTRYPOINT))
                error_type = RUNTIME_INVALID_ENTRYPOINT
            case InitFailure.ERROR | InitFailure.SANDBOX:
                error_type = self.outcome(request_id, timeout_s).error_type
            case _:
                assert_never(self.kind)
        logs.platform(lines.end_line(request_id))
        logs.platform(
            lines.report_line(
                request_id, duration_ms, start.memory_mb, start.max_memory_mb, None, status, error_type
            )
        )
        return logs.end()
