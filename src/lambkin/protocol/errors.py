"""The errors an AWS API answers with: AwsError, and DomainError, the shape of the errors of the parts.

Every error a client sees leaves the gateway as an AwsError. The parts below the API (functions, invoke,
events, queues, logs, identity) never import this module: their errors are domain errors, any exception with
a `code` (the error shape's name in the service's model) and a `message`, and optionally `fields` (further
members of that shape by model member name) and `status` (for a code the model does not have). The gateway
turns them into AwsErrors in one place (`dialect.domain`), which adds what the service's dialect says
(Lambda: `Type: User`); the model gives the HTTP status and, for SQS, the legacy query code and the sender
fault (`serialize.error`).

    Exception
    ├── AwsError(code, message, status=None, *, query_code=None, **fields)
    │     raised by the protocol layer (auth, parse, validation, routing: `dialect.py`) and by API handlers
    │     for checks of the request itself (a payload that is not JSON, a zip package)
    └── DomainError (a structural protocol: any exception with `code` and `message`)
        ├── functions.errors.FunctionsError     lambda   ResourceNotFoundException, ResourceConflictException,
        │   │                                            InvalidParameterValueException, ValidationException,
        │   │                                            PreconditionFailedException, ServiceException
        │   ├── FunctionNotFound
        │   │   └── invoke.targets.FunctionGone          (the resolver: gone, so drop or disable)
        │   ├── ResourceConflict
        │   │   └── invoke.targets.FunctionBusy          (the resolver: Pending or Failed, so wait)
        │   └── functions.provisioned.ConfigNotFound     ProvisionedConcurrencyConfigNotFoundException
        ├── events.errors.MappingError          lambda   InvalidParameterValueException, ResourceNotFound-,
        │                                                ResourceConflict-, ResourceInUseException
        ├── invoke.concurrency.Throttled        lambda   TooManyRequestsException, fields {"Reason": ...}
        ├── invoke.invoker.InvalidClientContext lambda   InvalidRequestContentException
        ├── identity.sts.StsError               sts      AccessDenied (403), ValidationError
        ├── queues.errors.QueueError            sqs      QueueDoesNotExist, InvalidAttributeName, ... (the json
        │                                                protocol's names; query codes from `legacy.py`)
        ├── logs.errors.LogsError               logs     ResourceNotFoundException, InvalidParameterException
        ├── store.errors.StorageFull            every    ServiceUnavailable: each service's retryable server
        │                                                fault (`dialect.unavailable`), for a full disk
        └── store.errors.StoreUnavailable       every    the same, for a database that cannot be reached

`images.errors.RegistryError` has the same shape, but it is the OCI registry's (`api/registry.py` renders it
as the distribution spec's JSON); it never reaches an AWS API.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class AwsError(Exception):
    """An error the client sees as `botocore.exceptions.ClientError` with this code and message.

    code        the error shape's name as botocore matches it ("ResourceNotFoundException",
                "QueueDoesNotExist"); for query-compatible services the modelled name, and the legacy
                query code is looked up by the renderer
    message     the human text ("Function not found: arn:aws:lambda:...")
    status      HTTP status; None takes the model's `error.httpStatusCode` (default 400, 500 for
                ServiceException-like codes the model marks so)
    query_code  for query-compatible services (SQS), the legacy code when it is not the model's
                (e.g. "InvalidParameterValue"); modelled errors find theirs in `protocol/legacy.py`
    fields      extra members of the error shape, by model member name (Type="User",
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded", retryAfterSeconds="1")

    Nothing here renders bytes: `protocol/serialize.py` turns an AwsError into the wire form of the
    service's protocol (rest-json, json, or query XML).
    """

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


@runtime_checkable
class DomainError(Protocol):
    """An error raised below the API, as the gateway reads it (checked only once something failed)."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


def validation_error(problems: list[str]) -> str:
    """The Coral-style message AWS uses: "1 validation error detected: Value ... ; Value ..."."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)
