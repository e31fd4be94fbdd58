"""The gateway speaking rest-json to a real botocore Lambda client, in-process."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from lambkin.protocol.errors import AwsError
from tests.unit.protocol.wire import build, client, echo, gateway, model_for, send

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def test_get_account_settings_round_trip() -> None:
    limits = {
        "TotalCodeSize": 80530636800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 900,
    }
    handler, seen = echo({"AccountLimit": limits, "AccountUsage": {"FunctionCount": 2}})
    lam = client(gateway({"lambda": {"GetAccountSettings": handler}}), "lambda")
    answer = lam.get_account_settings()
    assert answer["AccountLimit"] == limits
    assert answer["AccountUsage"] == {"FunctionCount": 2}
    assert (
        answer["ResponseMetadata"]["RequestId"]
        == answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    )
    context = seen[0]["context"]
    assert (context.service, context.operation, context.region) == (
        "lambda",
        "GetAccountSettings",
        "us-east-1",
    )
    assert context.access_key_id == "AKIDTEST"


def test_invoke_carries_raw_payload_headers_and_qualifier_both_ways() -> None:
    handler, seen = echo(
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "LogResult": "bG9ncw==",
            "ExecutedVersion": "3",
            "Payload": b'{"errorMessage":"boom"}',
        }
    )
    lam = client(gateway({"lambda": {"Invoke": handler}}), "lambda")
    answer = lam.invoke(FunctionName=ARN, Qualifier="live", Payload=b'{"a": 1}', LogType="Tail")
    params = seen[0]["params"]
    assert params == {"FunctionName": ARN, "Qualifier": "live", "LogType": "Tail", "Payload": b'{"a": 1}'}
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert answer["LogResult"] == "bG9ncw=="
    assert answer["ExecutedVersion"] == "3"
    assert answer["Payload"].read() == b'{"errorMessage":"boom"}'


def test_invoke_status_code_member_sets_http_status() -> None:
    handler, _ = echo({"StatusCode": 202})
    lam = client(gateway({"lambda": {"Invoke": handler}}), "lambda")
    answer = lam.invoke(FunctionName="fn", InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_create_function_body_structures_and_response_code() -> None:
    handler, seen = echo(
        {"FunctionName": "fn", "MemorySize": 256, "Architectures": ["arm64"], "State": "Pending"}
    )
    lam = client(gateway({"lambda": {"CreateFunction": handler}}), "lambda")
    answer = lam.create_function(
        FunctionName="fn",
        Role="arn:aws:iam::000000000000:role/r",
        PackageType="Image",
        Code={"ImageUri": "localhost:9000/app:v1"},
        MemorySize=256,
        Environment={"Variables": {"AB": "1"}},
        ImageConfig={"Command": ["app.handler"]},
        Tags={"team": "x"},
    )
    params = seen[0]["params"]
    assert params["Code"] == {"ImageUri": "localhost:9000/app:v1"}
    assert params["Environment"] == {"Variables": {"AB": "1"}}
    assert params["ImageConfig"] == {"Command": ["app.handler"]}
    assert params["Tags"] == {"team": "x"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (answer["MemorySize"], answer["Architectures"], answer["State"]) == (256, ["arm64"], "Pending")


def test_list_query_members_and_greedy_arn_labels() -> None:
    handler, seen = echo({})
    lam = client(gateway({"lambda": {"UntagResource": handler}}), "lambda")
    lam.untag_resource(Resource=ARN, TagKeys=["a", "b c"])
    assert seen[0]["params"] == {"Resource": ARN, "TagKeys": ["a", "b c"]}


def _raise(error: AwsError) -> Any:
    async def handler(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise error

    return handler


def test_modelled_errors_match_client_exceptions() -> None:
    failing = _raise(AwsError("ResourceNotFoundException", f"Function not found: {ARN}"))
    lam = client(gateway({"lambda": {"GetFunction": failing}}), "lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        lam.get_function(FunctionName="fn")
    error = raised.value.response
    assert error["Error"]["Message"] == f"Function not found: {ARN}"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Type"] == "User"


def test_throttle_carries_reason_and_retry_after() -> None:
    failing = _raise(
        AwsError(
            "TooManyRequestsException",
            "Rate Exceeded.",
            Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            retryAfterSeconds="1",
        )
    )
    lam = client(gateway({"lambda": {"Invoke": failing}}), "lambda")
    with pytest.raises(lam.exceptions.TooManyRequestsException) as raised:
        lam.invoke(FunctionName="fn", Payload=b"{}")
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"


def _error(answer: Any) -> tuple[int, str, str]:
    body = json.loads(answer.body)
    return answer.status, answer.headers["x-amzn-errortype"], body.get("message") or body.get("Message")


def test_out_of_range_input_is_a_validation_exception() -> None:
    handler, seen = echo({})
    app = gateway({"lambda": {"CreateFunction": handler}})
    role = "arn:aws:iam::000000000000:role/r"
    params = {"FunctionName": "fn", "Role": role, "Code": {}, "MemorySize": 64}
    status, code, message = _error(send(app, build("lambda", "CreateFunction", params)))
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )
    assert seen == []


def test_missing_required_members_are_listed() -> None:
    handler, _ = echo({})
    app = gateway({"lambda": {"CreateFunction": handler}})
    status, code, message = _error(send(app, build("lambda", "CreateFunction", {"FunctionName": "fn"})))
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in message
    assert "Value null at 'code' failed to satisfy constraint: Member must not be null" in message


def test_body_that_is_not_json_is_invalid_request_content() -> None:
    handler, _ = echo({})
    app = gateway({"lambda": {"CreateFunction": handler}})
    request = build("lambda", "CreateFunction", {"FunctionName": "fn"})
    request.body = b"{not json"
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method=request.method, url=request.url, data=b"{not json")
    SigV4Auth(Credentials("AKIDTEST", "test-secret"), "lambda", "us-east-1").add_auth(signed)
    status, code, _ = _error(send(app, signed.prepare()))
    assert (status, code) == (400, "InvalidRequestContentException")


def test_wrong_types_in_body_are_invalid_request_content() -> None:
    handler, _ = echo({})
    app = gateway({"lambda": {"UpdateFunctionConfiguration": handler}})
    request = build("lambda", "UpdateFunctionConfiguration", {"FunctionName": "fn", "MemorySize": "lots"})
    status, code, _ = _error(send(app, request))
    assert (status, code) == (400, "InvalidRequestContentException")


def test_unknown_route_and_unserved_operation() -> None:
    app = gateway({"lambda": {}})
    lam = client(app, "lambda")
    with pytest.raises(lam.exceptions.ClientError) as raised:
        lam.get_account_settings()
    assert raised.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    request = build("lambda", "GetAccountSettings", {})
    request.url = request.url.replace("account-settings", "no-such-thing")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method="GET", url=request.url)
    SigV4Auth(Credentials("AKIDTEST", "test-secret"), "lambda", "us-east-1").add_auth(signed)
    status, code, _ = _error(send(app, signed.prepare()))
    assert (status, code) == (404, "UnknownOperationException")


def test_handler_crash_is_a_logged_service_exception(caplog: pytest.LogCaptureFixture) -> None:
    async def crash(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("kaboom")

    lam = client(gateway({"lambda": {"GetAccountSettings": crash}}), "lambda")
    with (
        caplog.at_level(logging.ERROR, "lambkin.protocol"),
        pytest.raises(lam.exceptions.ServiceException) as raised,
    ):
        lam.get_account_settings()
    request_id = raised.value.response["ResponseMetadata"]["RequestId"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert request_id in raised.value.response["Error"]["Message"]
    assert "kaboom" in caplog.text and request_id in caplog.text


def test_invoke_payload_over_six_megabytes_is_request_too_large() -> None:
    handler, seen = echo({})
    app = gateway({"lambda": {"Invoke": handler}})
    request = build("lambda", "Invoke", {"FunctionName": "fn", "Payload": b"x" * (6_291_456 + 1)})
    status, code, message = _error(send(app, request))
    assert (status, code) == (413, "RequestTooLargeException")
    assert "6291456" in message
    assert seen == []


def test_model_for_lambda_is_rest_json() -> None:
    assert model_for("lambda").protocol == "rest-json"


def _streaming(events: list[dict[str, Any]], failure: AwsError | None = None) -> Any:
    async def handler(params: dict[str, Any], context: Any) -> dict[str, Any]:
        async def stream() -> Any:
            for item in events:
                yield item
            if failure is not None:
                raise failure

        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "EventStream": stream()}

    return handler


def test_response_stream_is_an_event_stream_botocore_reads() -> None:
    events = [
        {"PayloadChunk": {"Payload": b"hello "}},
        {"PayloadChunk": {"Payload": b"world"}},
        {"InvokeComplete": {"LogResult": "bG9ncw=="}},
    ]
    lam = client(gateway({"lambda": {"InvokeWithResponseStream": _streaming(events)}}), "lambda")
    answer = lam.invoke_with_response_stream(FunctionName="fn", Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert list(answer["EventStream"]) == events


def test_error_mid_stream_ends_it_with_an_exception_message() -> None:
    failing = _streaming([{"PayloadChunk": {"Payload": b"partial"}}], AwsError("ServiceException", "lost it"))
    lam = client(gateway({"lambda": {"InvokeWithResponseStream": failing}}), "lambda")
    answer = lam.invoke_with_response_stream(FunctionName="fn", Payload=b"{}")
    stream = iter(answer["EventStream"])
    assert next(stream) == {"PayloadChunk": {"Payload": b"partial"}}
    with pytest.raises(EventStreamError) as raised:
        next(stream)
    assert raised.value.response["Error"] == {"Code": "ServiceException", "Message": "lost it"}


def test_a_204_answer_has_no_body() -> None:
    # DeleteAlias answers 204 with no output shape: a body would be read as the next response on the connection.
    handler, _ = echo()
    app = gateway({"lambda": {"DeleteAlias": handler}})
    answer = send(app, build("lambda", "DeleteAlias", {"FunctionName": "fn", "Name": "live"}))
    assert answer.status == 204
    assert answer.body == b""
