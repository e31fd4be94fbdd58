"""The control plane's domain errors, each named after the Lambda error shape a client will see.

    FunctionsError                      code
    ├── FunctionNotFound                ResourceNotFoundException        (function, version or alias)
    ├── InvalidParameterValue           InvalidParameterValueException   (Lambda's semantic checks)
    ├── ValidationFailed                ValidationException              (default-Lambda numeric limits)
    ├── ResourceConflict                ResourceConflictException        (exists, Pending, update under way)
    └── PreconditionFailed              PreconditionFailedException      (RevisionId mismatch)

They carry no HTTP: the gateway renders them, in one place for every domain error (`protocol/errors.py`).
"""

from __future__ import annotations

from typing import ClassVar


class FunctionsError(Exception):
    """One control-plane error: the Lambda error shape's name and a human message."""

    code: ClassVar[str] = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FunctionNotFound(FunctionsError):
    code = "ResourceNotFoundException"


class InvalidParameterValue(FunctionsError):
    code = "InvalidParameterValueException"


class ValidationFailed(FunctionsError):
    """A number outside default Lambda's limits though inside the model's (worded as AWS words model checks)."""

    code = "ValidationException"


class ResourceConflict(FunctionsError):
    code = "ResourceConflictException"


class PreconditionFailed(FunctionsError):
    code = "PreconditionFailedException"


REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def not_found(arn: str) -> FunctionNotFound:
    return FunctionNotFound(f"Function not found: {arn}")


def alias_not_found(arn: str) -> FunctionNotFound:
    return FunctionNotFound(f"Alias not found: {arn}")


def update_in_progress(arn: str) -> ResourceConflict:
    return ResourceConflict(
        f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"
    )


def not_invocable(state: str) -> ResourceConflict:
    return ResourceConflict(
        "The operation cannot be performed at this time. "
        f"The function is currently in the following state: {state}"
    )
