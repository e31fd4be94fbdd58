"""The event source mapping errors, each named after the Lambda error shape a client sees.

    MappingError                  code
    ├── InvalidParameterValue     InvalidParameterValueException  (Lambda's checks of a mapping)
    ├── MappingNotFound           ResourceNotFoundException       (no mapping with that UUID)
    ├── MappingConflict           ResourceConflictException       (a mapping of that queue and function exists)
    └── MappingInUse              ResourceInUseException          (a state change is under way: try again)

They carry no HTTP: the gateway renders them, in one place for every domain error (`protocol/errors.py`).
"""

from __future__ import annotations

from typing import ClassVar


class MappingError(Exception):
    code: ClassVar[str] = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameterValue(MappingError):
    code = "InvalidParameterValueException"


class MappingNotFound(MappingError):
    code = "ResourceNotFoundException"


class MappingConflict(MappingError):
    code = "ResourceConflictException"


class MappingInUse(MappingError):
    code = "ResourceInUseException"
