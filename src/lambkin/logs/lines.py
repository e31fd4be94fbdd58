"""The platform's log lines (START, END, REPORT, timeout, INIT_REPORT) and log stream names, exactly as Lambda writes them."""

from __future__ import annotations

import datetime
import math
import secrets


def stream_name(version: str, now: datetime.datetime, env_hex: str | None = None) -> str:
    """`YYYY/MM/DD/[$LATEST]<32 hex>`: one log stream per execution environment."""
    suffix = env_hex or secrets.token_hex(16)
    return f"{now:%Y/%m/%d}/[{version}]{suffix}"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def timeout_line(now: datetime.datetime, request_id: str, timeout_s: float) -> str:
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_line(request_id: str, describe: str) -> str:
    """The runtime exited while Lambda waited on it (two lines, as Lambda writes them)."""
    return error_line(request_id, f"Runtime exited with error: {describe}", "Runtime.ExitError")


def error_line(request_id: str, detail: str, error_type: str) -> str:
    """A platform error in the caller's log: `RequestId: ... Error: <detail>`, then its type on a line."""
    return f"RequestId: {request_id} Error: {detail}\n{error_type}"


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,  # "timeout" / "error" for failed invocations
    error_type: str | None = None,
) -> str:
    """One invocation's REPORT line (every field ends in a tab)."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration_ms, init_duration_ms)} ms\tMemory Size: {memory_size_mb} MB\t"
        f"Max Memory Used: {max_memory_used_mb} MB\t"
    )
    if init_duration_ms is not None:
        line += f"Init Duration: {init_duration_ms:.2f} ms\t"
    if status is not None:
        line += f"Status: {status}\t"
    if error_type is not None:
        line += f"Error Type: {error_type}\t"
    return line


def billed_ms(duration_ms: float, init_duration_ms: float | None) -> int:
    """Rounded up to the millisecond; container images bill their init too."""
    return math.ceil(duration_ms + (init_duration_ms or 0.0))


def init_report_line(init_duration_ms: float, phase: str, status: str, error_type: str | None) -> str:
    parts = [f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms", f"Phase: {phase}", f"Status: {status}"]
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts)


def megabytes(n_bytes: int) -> int:
    return math.ceil(n_bytes / (1024 * 1024)) if n_bytes > 0 else 0
