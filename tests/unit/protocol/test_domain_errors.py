"""Domain errors raised by a handler leave the gateway as the AWS errors of their service: code, status, fields.

Each is also compared, byte for byte, with the AwsError its API module used to raise in its place
(`Type: User` for Lambda's, the bare code and message for SQS's and CloudWatch Logs').
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.events import errors as mappings
from lambkin.functions import errors as functions
from lambkin.functions.provisioned import ConfigNotFound
from lambkin.invoke.concurrency import ACCOUNT_LIMIT, RESERVED_LIMIT, Throttled
from lambkin.invoke.invoker import InvalidClientContext
from lambkin.invoke.targets import FunctionBusy, FunctionGone
from lambkin.logs import errors as logs
from lambkin.protocol.errors import AwsError, DomainError
from lambkin.queues import errors as queues
from tests.unit.protocol.wire import Answer, build, gateway, send

OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "lambda": ("GetFunction", {"FunctionName": "fn"}),
    "sqs": ("GetQueueUrl", {"QueueName": "q"}),
    "logs": ("DescribeLogStreams", {"logGroupName": "g"}),
}

# (service, the error a part raises, the code the client sees, the HTTP status the model gives it)
CASES: list[tuple[str, Exception, str, int]] = [
    ("lambda", functions.FunctionsError("store failed"), "ServiceException", 500),
    ("lambda", functions.not_found("arn:aws:lambda:us-east-1:000000000000:function:fn"), "ResourceNotFoundException", 404),
    ("lambda", functions.alias_not_found("arn:aws:lambda:us-east-1:000000000000:function:fn:live"), "ResourceNotFoundException", 404),
    ("lambda", functions.InvalidParameterValue("Invalid alias name: 7"), "InvalidParameterValueException", 400),
    ("lambda", functions.ValidationFailed("1 validation error detected"), "ValidationException", 400),
    ("lambda", functions.update_in_progress("arn:aws:lambda:us-east-1:000000000000:function:fn"), "ResourceConflictException", 409),
    ("lambda", functions.PreconditionFailed(functions.REVISION_MISMATCH), "PreconditionFailedException", 412),
    ("lambda", ConfigNotFound("No Provisioned Concurrency Config found"), "ProvisionedConcurrencyConfigNotFoundException", 404),
    ("lambda", FunctionGone("Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn"), "ResourceNotFoundException", 404),
    ("lambda", FunctionBusy(functions.not_invocable("Pending").message), "ResourceConflictException", 409),
    ("lambda", mappings.InvalidParameterValue("BatchSize must be 10 or less"), "InvalidParameterValueException", 400),
    ("lambda", mappings.MappingNotFound("The resource you requested does not exist."), "ResourceNotFoundException", 404),
    ("lambda", mappings.MappingConflict("An event source mapping exists"), "ResourceConflictException", 409),
    ("lambda", mappings.MappingInUse("Cannot update the event source mapping"), "ResourceInUseException", 400),
    ("lambda", Throttled(RESERVED_LIMIT), "TooManyRequestsException", 429),
    ("lambda", InvalidClientContext("Incorrect padding"), "InvalidRequestContentException", 400),
    ("sqs", queues.QueueDoesNotExist(), "QueueDoesNotExist", 400),
    ("sqs", queues.QueueNameExists("A queue already exists with the same name"), "QueueNameExists", 400),
    ("sqs", queues.InvalidAttributeName("Unknown Attribute Foo."), "InvalidAttributeName", 400),
    ("sqs", queues.InvalidAttributeValue("Invalid value for the parameter DelaySeconds."), "InvalidAttributeValue", 400),
    ("sqs", queues.InvalidParameterValue("Value 11 for parameter MaxNumberOfMessages is invalid."), "InvalidParameterValue", 400),
    ("sqs", queues.MissingParameter("The request must contain the parameter QueueName."), "MissingParameter", 400),
    ("sqs", queues.InvalidMessageContents("Invalid characters found."), "InvalidMessageContents", 400),
    ("sqs", queues.ReceiptHandleIsInvalid("The input receipt handle is invalid."), "ReceiptHandleIsInvalid", 400),
    ("sqs", queues.MessageNotInflight(), "MessageNotInflight", 400),
    ("sqs", queues.PurgeQueueInProgress("Only one PurgeQueue operation is allowed every 60 seconds."), "PurgeQueueInProgress", 403),
    ("sqs", queues.QueueDeletedRecently("You must wait 60 seconds after deleting a queue."), "QueueDeletedRecently", 400),
    ("sqs", queues.UnsupportedOperation("FIFO queues do not support per-message delays."), "UnsupportedOperation", 400),
    ("sqs", queues.EmptyBatchRequest("There should be at least one entry in the request."), "EmptyBatchRequest", 400),
    ("sqs", queues.TooManyEntriesInBatchRequest("Maximum number of entries per request are 10."), "TooManyEntriesInBatchRequest", 400),
    ("sqs", queues.BatchEntryIdsNotDistinct("Id 1 repeated."), "BatchEntryIdsNotDistinct", 400),
    ("sqs", queues.BatchRequestTooLong("Batch requests cannot be longer than 262144 bytes."), "BatchRequestTooLong", 400),
    ("sqs", queues.InvalidBatchEntryId("A batch entry id can only contain alphanumeric characters."), "InvalidBatchEntryId", 400),
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
    return AwsError(failure.code, failure.message, **fields)


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
