"""AwsError: the one exception a handler raises to answer with an AWS error shape.

    AwsError(code, message, status=None, **fields)
    ├── code     the error shape's name as botocore matches it ("ResourceNotFoundException",
    │            "QueueDoesNotExist"); for query-compatible services the modelled name, and the
    │            legacy query code is looked up by the renderer
    ├── message  the human text ("Function not found: arn:aws:lambda:...")
    ├── status   HTTP status; None takes the model's `error.httpStatusCode` (default 400, 500 for
    │            ServiceException-like codes the model marks so)
    ├── query_code  for query-compatible services (SQS), the legacy code when it is not the model's
    │            (e.g. "InvalidParameterValue"); modelled errors find theirs in `protocol/legacy.py`
    └── fields   extra members of the error shape, by model member name (Type="User",
                 Reason="ReservedFunctionConcurrentInvocationLimitExceeded", retryAfterSeconds="1")

Nothing here renders bytes: `protocol/serialize.py` turns an AwsError into the wire form of the
service's protocol (rest-json, json, or query XML).
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error the client sees as `botocore.exceptions.ClientError` with this code and message."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        *,
        query_code: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.query_code = query_code
        self.fields: dict[str, Any] = fields

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, status={self.status!r})"


def validation_error(problems: list[str]) -> str:
    """The Coral-style message AWS uses: "1 validation error detected: Value ... ; Value ..."."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)
