"""EventBridge's and Scheduler's errors, each named after the error shape a client sees.

    BridgeError                    code
    ├── InvalidPattern             InvalidEventPatternException   (a pattern that does not compile)
    ├── Invalid                    ValidationException            (a parameter AWS checks beyond the model)
    ├── NotFound                   ResourceNotFoundException      (no such bus, rule or schedule)
    ├── AlreadyExists              ResourceAlreadyExistsException (a bus of that name exists)
    ├── LimitExceeded              LimitExceededException         (targets per rule, buses per account)
    └── Conflict                   ConflictException              (Scheduler: a schedule or group of that name exists)

They carry no HTTP: the gateway renders them (`protocol/errors.py`).
"""

from __future__ import annotations

from typing import ClassVar


class BridgeError(Exception):
    code: ClassVar[str] = "InternalException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPattern(BridgeError):
    code = "InvalidEventPatternException"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")


class Invalid(BridgeError):
    code = "ValidationException"


class NotFound(BridgeError):
    code = "ResourceNotFoundException"


class AlreadyExists(BridgeError):
    code = "ResourceAlreadyExistsException"


class LimitExceeded(BridgeError):
    code = "LimitExceededException"


class Conflict(BridgeError):
    code = "ConflictException"
