"""What one invocation produced: a response or a function error, from a closed vocabulary of error types."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# RAPID's interop.MaxPayloadSize: 6 MiB + 100 bytes.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100

RUNTIME_EXIT_ERROR = "Runtime.ExitError"
RUNTIME_INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
RUNTIME_UNKNOWN = "Runtime.Unknown"
FUNCTION_UNKNOWN = "Function.Unknown"
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
INVALID_RESPONSE_MODE = "Runtime.InvalidResponseModeHeader"
TRUNCATED_RESPONSE = "Runtime.TruncatedResponse"
SANDBOX_TIMEDOUT = "Sandbox.Timedout"
SANDBOX_FAILURE = "Sandbox.Failure"

_VALID_ERROR_TYPE = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")


@dataclass(frozen=True)
class Success:
    """The runtime's /response body, as the caller receives it."""

    payload: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class FunctionError:
    """An unhandled error: the caller sees HTTP 200, X-Amz-Function-Error: Unhandled and this body."""

    error_type: str
    payload: bytes


Outcome = Success | FunctionError


def error_message(error: FunctionError) -> str:
    """The error's `errorMessage`, or "" when its body has none."""
    try:
        body = json.loads(error.payload)
    except ValueError:
        return ""
    message = body.get("errorMessage") if isinstance(body, dict) else None
    return message if isinstance(message, str) else ""


def valid_error_type(header: str | None) -> str:
    """RAPID's rule for Lambda-Runtime-Function-Error-Type: known shapes pass, others become *.Unknown."""
    if not header:
        return RUNTIME_UNKNOWN
    if _VALID_ERROR_TYPE.match(header):
        return header
    return FUNCTION_UNKNOWN if header.startswith("Function.") else RUNTIME_UNKNOWN


def platform_error(error_type: str, message: str) -> FunctionError:
    """An error the platform reports on the function's behalf, shaped as Lambda renders it."""
    body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return FunctionError(error_type, body)


def exit_error(request_id: str, describe: str) -> FunctionError:
    """The runtime died while holding (or waiting to receive) the event."""
    return platform_error(
        RUNTIME_EXIT_ERROR, f"RequestId: {request_id} Error: Runtime exited with error: {describe}"
    )


def invalid_entrypoint_error(request_id: str, detail: str) -> FunctionError:
    """The runtime could not be started: no bootstrap, an entrypoint missing or not executable."""
    return platform_error(RUNTIME_INVALID_ENTRYPOINT, f"RequestId: {request_id} Error: {detail}")


def timeout_error(request_id: str, timeout_s: float) -> FunctionError:
    """The invocation ran past the function's timeout."""
    return platform_error(SANDBOX_TIMEDOUT, f"RequestId: {request_id} Error: {timeout_message(timeout_s)}")


def timeout_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"


def response_too_large(size: int) -> FunctionError:
    return platform_error(
        RESPONSE_TOO_LARGE,
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes).",
    )


def truncated_response(request_id: str) -> FunctionError:
    """The runtime hung up in the middle of its /response body (RAPID's ErrTruncatedResponse, in its words)."""
    return platform_error(
        TRUNCATED_RESPONSE, f"RequestId: {request_id} Error: HTTP request detected as truncated"
    )
