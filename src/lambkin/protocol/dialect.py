"""How each service words errors: the protocol layer's own (auth, parse, validation, routing), domain ones."""

from __future__ import annotations

from typing import Any

from lambkin.protocol.errors import AwsError, DomainError, validation_error
from lambkin.protocol.sigv4 import SignatureError
from lambkin.protocol.validate import Problem

INVOKE_LIMIT = 6_291_456
BODY_LIMIT = 10 * 1024 * 1024
# Lambda's request limit for the operations that carry a .zip package (50 MB zipped, base64 in JSON).
PACKAGE_LIMIT = 69_905_067
PACKAGE_OPERATIONS = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})
QUERY_SERVICES = frozenset({"iam", "sts"})  # query-protocol services: input faults are ValidationError
UNAVAILABLE = "ServiceUnavailable"  # a domain error's code for a retryable fault of the server (a full disk, the database away)

# SignatureError.kind → (json/rest-json code, query code, status)
_AUTH: dict[str, tuple[str, str, int]] = {
    "missing": ("MissingAuthenticationTokenException", "MissingAuthenticationToken", 403),
    "unknown_key": ("UnrecognizedClientException", "InvalidClientTokenId", 403),
    "mismatch": ("InvalidSignatureException", "SignatureDoesNotMatch", 403),
    "expired": ("InvalidSignatureException", "SignatureDoesNotMatch", 403),
    "expired_token": ("ExpiredTokenException", "ExpiredToken", 403),
    "malformed": ("IncompleteSignatureException", "IncompleteSignature", 400),
}


def domain(service: str, failure: DomainError) -> AwsError:
    """A domain error as the service answers it: its code, message and fields; every one Lambda answers
    is the caller's (`Type: User`). The status comes from the model, unless the error has its own (an
    unmodelled one: STS's AccessDenied, 403); SQS's query code from the model too. A retryable fault of the
    server (code UNAVAILABLE: a full disk, the database away) is each service's own (`unavailable`)."""
    if failure.code == UNAVAILABLE:
        return unavailable(service, failure.message)
    fields: dict[str, Any] = {"Type": "User"} if service == "lambda" else {}
    fields.update(getattr(failure, "fields", None) or {})
    status = getattr(failure, "status", None)
    return AwsError(failure.code, failure.message, status if isinstance(status, int) else None, **fields)


def auth_error(failure: SignatureError) -> AwsError:
    code, query_code, status = _AUTH[failure.kind]
    return AwsError(code, failure.message, status, query_code=query_code)


def access_denied(service: str, message: str) -> AwsError:
    """The caller may not do what it asked: each service's AccessDenied (Lambda's, Scheduler's, CloudWatch
    Logs' and EventBridge's AccessDeniedException, SQS's AccessDenied in both its protocols, IAM's and STS's
    AccessDenied)."""
    if service in ("lambda", "scheduler"):
        return AwsError("AccessDeniedException", message, 403)
    if service in ("logs", "events"):
        return AwsError("AccessDeniedException", message)  # the model's status: 400
    if service == "apigatewayv2":
        return AwsError("AccessDeniedException", message, 403)
    if service == "sqs":
        return AwsError("AccessDeniedException", message, 403, query_code="AccessDenied")
    return AwsError("AccessDenied", message, 403)


def parse_error(service: str, message: str) -> AwsError:
    if service == "lambda":
        return AwsError("InvalidRequestContentException", message, 400)
    if service == "sqs":
        return AwsError("SerializationException", message, 400, query_code="InvalidParameterValue")
    if service in QUERY_SERVICES:
        return AwsError("ValidationError", message, 400)
    if service == "apigatewayv2":
        return AwsError("BadRequestException", message, 400)
    return AwsError("SerializationException", message, 400)


def enforced(service: str, problems: list[Problem]) -> list[Problem]:
    """The model constraints the service itself enforces.

    SQS does not enforce its model's enums: ReceiveMessage takes message system attribute names in
    AttributeNames, and an unknown queue attribute is its own InvalidAttributeName (found by queues). A batch
    without entries (the query protocol sends no `Entries` for an empty list) is its EmptyBatchRequest.
    """
    if service == "sqs":
        return [
            problem
            for problem in problems
            if "enum value set" not in problem.constraint
            and not (problem.missing and problem.path == "entries")
        ]
    return problems


def invalid_input(service: str, problems: list[Problem]) -> AwsError:
    """The error a service answers for input that breaks its model's constraints."""
    if service == "sqs":
        first = problems[0]
        name = first.path[:1].upper() + first.path[1:]
        if first.missing:
            return AwsError(
                "MissingParameter",
                f"The request must contain the parameter {name}.",
                400,
                query_code="MissingParameter",
            )
        return AwsError(
            "InvalidParameterValue",
            f"Value {first.value} for parameter {name} is invalid. Reason: {first.constraint}.",
            400,
            query_code="InvalidParameterValue",
        )
    message = validation_error([problem.describe() for problem in problems])
    if service == "logs":
        return AwsError("InvalidParameterException", message, 400)
    if service in QUERY_SERVICES:
        return AwsError("ValidationError", message, 400)
    if service == "apigatewayv2":
        return AwsError("BadRequestException", message, 400)
    return AwsError("ValidationException", message, 400)


def unknown_operation(service: str, protocol: str, what: str) -> AwsError:
    """No operation of the model matches the request (API Gateway v1's, signed for `apigateway` as v2's
    are, is a service lambkin does not serve)."""
    if service == "apigatewayv2" and " /v2/" not in what:
        return AwsError(
            "UnsupportedOperation",
            f"lambkin does not serve API Gateway v1 (REST APIs: {what}); it serves HTTP APIs, API Gateway v2.",
            400,
        )
    if protocol == "query":
        return AwsError("InvalidAction", f"The action {what} is not valid for this endpoint.", 400)
    if protocol == "json":
        return AwsError("UnknownOperationException", f"Unknown operation {what}", 400)
    return AwsError("UnknownOperationException", f"No operation matches {what}", 404)


def not_served(signing_name: str, served: list[str]) -> AwsError:
    """A request signed for an AWS service lambkin does not serve (ECR's API, S3, API Gateway v1, ...)."""
    return AwsError(
        "UnsupportedOperation",
        f"lambkin does not serve the AWS service '{signing_name}' (the request is signed for it); "
        f"the services it serves are signed for: {', '.join(served)}.",
        400,
    )


def not_implemented(service: str, operation: str) -> AwsError:
    """A modelled operation lambkin does not serve."""
    if service == "sqs":
        return AwsError("UnsupportedOperation", f"{operation} is not supported by lambkin.", 400)
    return AwsError("UnsupportedOperation", f"{operation} is not supported by lambkin.", 501)


def too_large(service: str, operation: str | None, limit: int) -> AwsError:
    if service == "lambda" and operation in PACKAGE_OPERATIONS:
        return AwsError(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {limit} bytes for the {operation} operation",
            413,
        )
    if service == "lambda":
        action = "InvokeFunction" if operation == "Invoke" else (operation or "this")
        return AwsError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the {action} operation",
        )
    return AwsError("RequestEntityTooLarge", f"Request must be smaller than {limit} bytes.", 413)


def unavailable(service: str, message: str) -> AwsError:
    """A fault of the server that a retry may get past (a full disk, the database away): each service's retryable server error."""
    if service == "lambda":
        return AwsError("ServiceException", message, 500)
    if service == "sqs":
        return AwsError("ServiceUnavailable", message, 503, query_code="ServiceUnavailable")
    if service == "logs":
        return AwsError("ServiceUnavailableException", message, 500)
    if service == "iam":
        return AwsError("ServiceFailureException", message, 500)
    return AwsError("ServiceUnavailable", message, 503)


def internal(service: str, request_id: str) -> AwsError:
    message = f"An internal error occurred (request {request_id})."
    if service == "lambda":
        return AwsError("ServiceException", message, 500)
    if service == "sqs":
        return AwsError("InternalError", message, 500, query_code="InternalError")
    if service in QUERY_SERVICES:
        return AwsError("ServiceFailureException" if service == "iam" else "InternalFailure", message, 500)
    if service == "events":
        return AwsError("InternalException", message, 500)
    if service == "scheduler":
        return AwsError("InternalServerException", message, 500)
    return AwsError("ServiceUnavailableException", message, 500)


def body_limit(service: str, operation: str | None) -> int:
    if service == "lambda" and operation in PACKAGE_OPERATIONS:
        return PACKAGE_LIMIT
    return INVOKE_LIMIT if service == "lambda" and operation == "Invoke" else BODY_LIMIT
