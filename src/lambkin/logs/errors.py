"""The logs part's domain errors, each named after the CloudWatch Logs error shape a client sees.

    LogsError                 code
    ├── LogGroupNotFound      ResourceNotFoundException    (no log group of that name)
    └── InvalidParameter      InvalidParameterException    (e.g. a nextToken lambkin did not mint)

They carry no HTTP: the gateway renders them (`protocol/errors.py`).
"""

from __future__ import annotations

from typing import ClassVar


class LogsError(Exception):
    code: ClassVar[str] = "ServiceUnavailableException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LogGroupNotFound(LogsError):
    code = "ResourceNotFoundException"

    def __init__(self, message: str = "The specified log group does not exist.") -> None:
        super().__init__(message)


class InvalidParameter(LogsError):
    code = "InvalidParameterException"
