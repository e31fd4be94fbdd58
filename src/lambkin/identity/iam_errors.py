"""IAM's closed vocabulary of domain errors, each named after the error shape of botocore's `iam` model.

    IamError                        code (model shape)                  wire code, status
    ├── NoSuchEntity                NoSuchEntityException               NoSuchEntity, 404
    ├── EntityAlreadyExists         EntityAlreadyExistsException        EntityAlreadyExists, 409
    ├── DeleteConflict              DeleteConflictException             DeleteConflict, 409
    ├── LimitExceeded               LimitExceededException              LimitExceeded, 409
    ├── MalformedPolicyDocument     MalformedPolicyDocumentException    MalformedPolicyDocument, 400
    ├── InvalidInput                InvalidInputException               InvalidInput, 400
    ├── UnmodifiableEntity          UnmodifiableEntityException         UnmodifiableEntity, 400
    └── ValidationError             ValidationError (not modelled)      ValidationError, 400

No HTTP here: the gateway renders them (`protocol/errors.py`), the model giving the status and wire code.
"""

from __future__ import annotations

from typing import ClassVar


class IamError(Exception):
    """One refused IAM request: the model's error shape name and IAM's message."""

    code: ClassVar[str] = "ServiceFailureException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchEntity(IamError):
    code = "NoSuchEntityException"


class EntityAlreadyExists(IamError):
    code = "EntityAlreadyExistsException"


class DeleteConflict(IamError):
    code = "DeleteConflictException"


class LimitExceeded(IamError):
    code = "LimitExceededException"


def keys_quota(limit: int) -> LimitExceeded:
    """A user's access key past IAM's quota."""
    return LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {limit}")


class MalformedPolicyDocument(IamError):
    code = "MalformedPolicyDocumentException"


class InvalidInput(IamError):
    code = "InvalidInputException"


class UnmodifiableEntity(IamError):
    code = "UnmodifiableEntityException"


class ValidationError(IamError):
    code = "ValidationError"


def no_role(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def no_user(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def no_policy(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {arn} was not found.")


def not_attachable(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")


def no_access_key(access_key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


def is_policy_arn(arn: str) -> bool:
    """arn:aws:iam::ACCOUNT:policy/..., an account's or AWS's managed policy."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[:3] == ["arn", "aws", "iam"] and parts[5].startswith("policy/")


def invalid_arn(arn: str) -> InvalidInput:
    return InvalidInput(f"ARN {arn} is not valid.")


MUST_DETACH = "Cannot delete entity, must detach all policies first."
MUST_DELETE_POLICIES = "Cannot delete entity, must delete policies first."
MUST_DELETE_KEYS = "Cannot delete entity, must delete access keys first."
