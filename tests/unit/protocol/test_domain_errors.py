"""Domain errors raised by a handler leave the gateway as their service's AWS errors: code, status, fields.

Each is also compared, byte for byte, with the AwsError its API module used to raise in its place
(`Type: User` for Lambda's, the bare code and message for SQS's and CloudWatch Logs').
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.events import errors as mappings
from lambkin.functions import errors as functions
from lambkin.functions.policies import PolicyLengthExceeded
from lambkin.functions.provisioned import ConfigNotFound
from lambkin.functions.zip_code import PackageTooLargeToUpload
from lambkin.invoke.concurrency import ACCOUNT_LIMIT, RESERVED_LIMIT, Throttled
from lambkin.invoke.invoker import InvalidClientContext
from lambkin.invoke.targets import FunctionBusy, FunctionGone
from lambkin.logs import errors as logs
from lambkin.protocol.dialect import UNAVAILABLE, unavailable
from lambkin.protocol.errors import AwsError, DomainError
from lambkin.protocol.legacy import SQS_JSON_TYPES, query_error
from lambkin.queues import errors as queues
from tests.unit.protocol.wire import Answer, build, gateway, send

FN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "lambda": ("GetFunction", {"FunctionName": "fn"}),
    "sqs": ("GetQueueUrl", {"QueueName": "q"}),
    "logs": ("DescribeLogStreams", {"logGroupName": "g"}),
}

# (service, the error a part raises, the code the client sees, the HTTP status the model gives it)
CASES: list[tuple[str, Exception, str, int]] = [
    ("lambda", functions.FunctionsError("the store failed"), "ServiceException", 500),
    ("lambda", functions.not_found(FN), "ResourceNotFoundException", 404),
    ("lambda", functions.alias_not_found(f"{FN}:live"), "ResourceNotFoundException", 404),
    ("lambda", functions.InvalidParameterValue("Invalid alias name: 7"), "InvalidParameterValueException", 400),
    ("lambda", functions.ValidationFailed("1 validation error detected"), "ValidationException", 400),
    ("lambda", functions.update_in_progress(FN), "ResourceConflictException", 409),
    ("lambda", functions.PreconditionFailed(functions.REVISION_MISMATCH), "PreconditionFailedException", 412),
    ("lambda", ConfigNotFound("No config found"), "ProvisionedConcurrencyConfigNotFoundException", 404),
    ("lambda", FunctionGone(f"Function not found: {FN}"), "ResourceNotFoundException", 404),
    ("lambda", FunctionBusy(functions.not_invocable("Pending").message), "ResourceConflictException", 409),
    ("lambda", mappings.InvalidParameterValue("BatchSize too large"), "InvalidParameterValueException", 400),
    ("lambda", mappings.MappingNotFound("No such mapping."), "ResourceNotFoundException", 404),
    ("lambda", mappings.MappingConflict("A mapping exists"), "ResourceConflictException", 409),
    ("lambda", mappings.MappingInUse("Cannot update the mapping"), "ResourceInUseException", 400),
    ("lambda", Throttled(RESERVED_LIMIT), "TooManyRequestsException", 429),
    ("lambda", PolicyLengthExceeded("The final policy size (20481) is bigger than the limit (20480)."), "PolicyLengthExceededException", 400),
    ("lambda", InvalidClientContext("Incorrect padding"), "InvalidRequestContentException", 400),
    ("lambda", PackageTooLargeToUpload("Zipped size must be smaller than 52428800 bytes"), "RequestEntityTooLargeException", 413),
    ("sqs", queues.QueueDoesNotExist(), "QueueDoesNotExist", 400),
    ("sqs", queues.QueueNameExists("A queue already exists"), "QueueNameExists", 400),
    ("sqs", queues.InvalidAttributeName("Unknown Attribute Foo."), "InvalidAttributeName", 400),
    ("sqs", queues.InvalidAttributeValue("Invalid DelaySeconds."), "InvalidAttributeValue", 400),
    ("sqs", queues.InvalidParameterValue("Value 11 is invalid."), "InvalidParameterValue", 400),
    ("sqs", queues.MissingParameter("QueueName is missing."), "MissingParameter", 400),
    ("sqs", queues.InvalidMessageContents("Invalid characters found."), "InvalidMessageContents", 400),
    ("sqs", queues.ReceiptHandleIsInvalid("The receipt handle is invalid."), "ReceiptHandleIsInvalid", 400),
    ("sqs", queues.MessageNotInflight(), "MessageNotInflight", 400),
    ("sqs", queues.PurgeQueueInProgress("One PurgeQueue a minute."), "PurgeQueueInProgress", 403),
    ("sqs", queues.QueueDeletedRecently("Wait 60 seconds."), "QueueDeletedRecently", 400),
    ("sqs", queues.UnsupportedOperation("No per-message delays."), "UnsupportedOperation", 400),
    ("sqs", queues.EmptyBatchRequest("At least one entry."), "EmptyBatchRequest", 400),
    ("sqs", queues.TooManyEntriesInBatchRequest("At most 10 entries."), "TooManyEntriesInBatchRequest", 400),
    ("sqs", queues.BatchEntryIdsNotDistinct("Id 1 repeated."), "BatchEntryIdsNotDistinct", 400),
    ("sqs", queues.BatchRequestTooLong("Longer than 262144 bytes."), "BatchRequestTooLong", 400),
    ("sqs", queues.InvalidBatchEntryId("Alphanumeric ids only."), "InvalidBatchEntryId", 400),
    ("sqs", queues.OverLimit("8 Actions were found, maximum allowed is 7."), "OverLimit", 403),
    ("sqs", queues.ResourceNotFoundException("Task does not exist."), "ResourceNotFoundException", 404),
    ("sqs", queues.QueueUnavailable("the queue q is changing hands"), "ServiceUnavailable", 503),
    ("logs", logs.LogGroupNotFound(), "ResourceNotFoundException", 400),
    ("logs", logs.InvalidParameter("The specified nextToken is not valid."), "InvalidParameterException", 400),
]  # fmt: skip

IDS = [f"{service}-{type(failure).__name__}" for service, failure, _, _ in CASES]

# What each API module raised in the domain error's place before the gateway translated them.
_FORMER: dict[str, dict[str, Any]] = {"lambda": {"Type": "User"}, "sqs": {}, "logs": {}}


def answer(service: str, failure: Exception, protocol: str | None = None) -> Answer:
    """The gateway's answer when the operation's handler raises `failure`."""

    async def handler(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise failure

    operation, params = OPERATIONS[service]
    app = gateway({service: {operation: handler}})
    return send(app, build(service, operation, params, protocol=protocol))


def without_request_id(reply: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = reply.headers["x-amzn-requestid"]
    headers = sorted((k, v) for k, v in reply.headers.items() if k != "x-amzn-requestid")
    return reply.status, headers, reply.body.replace(request_id.encode(), b"<request-id>")


def former(service: str, failure: Exception) -> AwsError:
    fields = dict(_FORMER[service])
    if isinstance(failure, Throttled):
        fields["Reason"] = failure.reason
    assert isinstance(failure, DomainError)
    if failure.code == UNAVAILABLE:  # a retryable fault of the server: each service's own
        return unavailable(service, failure.message)
    status = getattr(
        failure, "status", None
    )  # an unmodelled error's own (Lambda's RequestEntityTooLarge: 413)
    return AwsError(failure.code, failure.message, status if isinstance(status, int) else None, **fields)


def test_every_domain_error_code_has_a_case() -> None:
    bases = (functions.FunctionsError, mappings.MappingError, queues.QueueError, logs.LogsError)
    covered = {code for _, _, code, _ in CASES}
    for base in bases:
        for cls in _subclasses(base):
            assert cls.code in covered, cls.__name__


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("lambkin."):
            found += [sub, *_subclasses(sub)]
    return found


@pytest.mark.parametrize(("service", "failure", "code", "status"), CASES, ids=IDS)
def test_a_domain_error_renders_with_its_code_and_status(
    service: str, failure: Exception, code: str, status: int
) -> None:
    assert isinstance(failure, DomainError)
    reply = answer(service, failure)
    assert reply.status == status
    body = json.loads(reply.body)
    message = body.get("message", body.get("Message"))
    assert message == failure.message
    if service == "lambda":
        assert reply.headers["x-amzn-errortype"] == code
        assert body["Type"] == "User"
    elif service == "sqs":  # the common errors the model does not declare have JSON names of their own
        assert body["__type"].rpartition("#")[2] == SQS_JSON_TYPES.get(code, code)
        assert reply.headers["x-amzn-query-error"].split(";")[0] == query_error("sqs", code)[0]
    else:
        assert body["__type"].rpartition("#")[2] == code


@pytest.mark.parametrize(("service", "failure", "code", "status"), CASES, ids=IDS)
def test_a_domain_error_answers_as_the_aws_error_raised_in_its_place(
    service: str, failure: Exception, code: str, status: int
) -> None:
    protocols: tuple[str | None, ...] = (None, "query") if service == "sqs" else (None,)
    for protocol in protocols:
        assert without_request_id(answer(service, failure, protocol)) == without_request_id(
            answer(service, former(service, failure), protocol)
        )


@pytest.mark.parametrize("reason", [RESERVED_LIMIT, ACCOUNT_LIMIT])
def test_a_throttle_carries_its_reason(reason: str) -> None:
    body = json.loads(answer("lambda", Throttled(reason)).body)
    assert body == {"Type": "User", "Reason": reason, "message": "Rate Exceeded."}


def test_an_exception_that_is_no_domain_error_is_an_internal_error() -> None:
    reply = answer("lambda", KeyError("code"))
    assert (reply.status, reply.headers["x-amzn-errortype"]) == (500, "ServiceException")


@pytest.mark.parametrize(
    ("failure", "wire_type", "query_code"),
    [
        (
            queues.InvalidParameterValue("Value 11 is invalid."),
            "InvalidParameterValueException",
            "InvalidParameterValue",
        ),
        (
            queues.MissingParameter("QueueName is missing."),
            "MissingRequiredParameterException",
            "MissingParameter",
        ),
        (queues.QueueDoesNotExist(), "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"),
        (
            queues.ResourceNotFoundException("Task does not exist."),
            "ResourceNotFoundException",
            "ResourceNotFoundException",
        ),
    ],
)
def test_sqs_json_errors_carry_awss_full_exception_name_and_the_query_code(
    failure: Exception, wire_type: str, query_code: str
) -> None:
    reply = answer("sqs", failure)
    assert json.loads(reply.body)["__type"] == f"com.amazonaws.sqs#{wire_type}"
    assert reply.headers["x-amzn-query-error"] == f"{query_code};Sender"
