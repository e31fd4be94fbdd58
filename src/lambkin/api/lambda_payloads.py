"""The checks every Invoke payload goes through, sync or async, with Lambda's errors."""

from __future__ import annotations

import json

from lambkin.json_depth import TOO_DEEP, too_deep
from lambkin.protocol.errors import AwsError

_JSON = json.JSONDecoder()


def check_json(payload: bytes) -> None:
    """An empty payload is `{}` to Lambda; anything else must parse as JSON."""
    if not payload:
        return
    if too_deep(payload):
        raise _unparsable(f"Could not parse payload into json: {TOO_DEEP}")
    try:  # what json.loads does with bytes, without its keyword checks (this is every Invoke)
        _JSON.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))
    except ValueError as exc:
        raise _unparsable(str(exc)) from exc


def _unparsable(reason: str) -> AwsError:
    return AwsError(
        "InvalidRequestContentException", f"Could not parse request body into json: {reason}", Type="User"
    )


def too_large(limit: int) -> AwsError:
    """A payload past `limit` bytes: 413 RequestTooLargeException."""
    return AwsError(
        "RequestTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        413,
        Type="User",
    )
