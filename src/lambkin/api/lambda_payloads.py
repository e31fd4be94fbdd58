"""The checks every Invoke payload goes through, sync or async, with Lambda's errors."""

from __future__ import annotations

import json

from lambkin.protocol.errors import AwsError

_JSON = json.JSONDecoder()


def check_json(payload: bytes) -> None:
    """An empty payload is `{}` to Lambda; anything else must parse as JSON."""
    if not payload:
        return
    try:  # what json.loads does with bytes, without its keyword checks (this is every Invoke)
        _JSON.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AwsError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}", Type="User"
        ) from exc


def too_large(limit: int) -> AwsError:
    """A payload past `limit` bytes: 413 RequestTooLargeException."""
    return AwsError(
        "RequestTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        413,
        Type="User",
    )
