"""The protocol layer as users meet it: boto3, the AWS CLI and raw HTTP against `lambkin server`."""

from __future__ import annotations

import datetime
import json
import subprocess
from typing import Any

import boto3
import botocore.auth
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.cli import run_aws
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

ONE_TRY = Config(retries={"total_max_attempts": 1})


def _aws(
    server: LambkinServer, *args: str, secret: str = SECRET_ACCESS_KEY
) -> subprocess.CompletedProcess[str]:
    return run_aws(server, *args, key=(ACCESS_KEY_ID, secret))


def _client(
    server: LambkinServer, service: str, key: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY
) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=ONE_TRY,
    )


def _code(error: ClientError) -> tuple[str, int]:
    response: Any = error.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_boto3_signed_request_is_served(server: LambkinServer) -> None:
    answer = server.client("lambda").get_account_settings()
    assert "ConcurrentExecutions" in answer["AccountLimit"]
    assert (
        answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        == answer["ResponseMetadata"]["RequestId"]
    )


def test_wrong_access_key_is_unrecognized(server: LambkinServer) -> None:
    lam = _client(server, "lambda", key="AKIDNOTOURS")
    with pytest.raises(ClientError) as raised:
        lam.get_account_settings()
    assert _code(raised.value) == ("UnrecognizedClientException", 403)
    assert (
        raised.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    )


def test_wrong_secret_is_an_invalid_signature(server: LambkinServer) -> None:
    lam = _client(server, "lambda", secret="not-the-secret")
    with pytest.raises(ClientError) as raised:
        lam.get_account_settings()
    assert _code(raised.value) == ("InvalidSignatureException", 403)


def test_skewed_clock_is_rejected(server: LambkinServer, monkeypatch: pytest.MonkeyPatch) -> None:
    skewed = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    lam = server.client("lambda", config=ONE_TRY)
    with pytest.raises(ClientError) as raised:
        lam.get_account_settings()
    assert _code(raised.value) == ("InvalidSignatureException", 403)
    assert raised.value.response["Error"]["Message"].startswith("Signature expired: ")


def test_unsigned_request_is_missing_authentication(server: LambkinServer) -> None:
    answer = httpx.get(f"{server.endpoint}/2016-08-19/account-settings")
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert answer.json() == {"message": "Missing Authentication Token"}
    assert answer.headers["x-amzn-requestid"]


def test_presigned_url_is_served(server: LambkinServer) -> None:
    url = server.client("lambda").generate_presigned_url("get_account_settings", ExpiresIn=300)
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert "AccountLimit" in answer.json()


def test_out_of_range_input_is_a_validation_exception(server: LambkinServer) -> None:
    lam = server.client(
        "lambda", config=Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName="x" * 300)
    assert _code(raised.value) == ("ValidationException", 400)
    assert raised.value.response["Error"]["Message"].startswith(
        "1 validation error detected: Value '"
        + "x" * 300
        + "' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to"
    )


def test_invoke_payload_over_six_megabytes_is_too_large(server: LambkinServer) -> None:
    lam = server.client("lambda", config=ONE_TRY)
    with pytest.raises(lam.exceptions.RequestTooLargeException) as raised:
        lam.invoke(FunctionName="any", Payload=b"x" * (6_291_456 + 1))
    assert _code(raised.value) == ("RequestTooLargeException", 413)


def test_sqs_auth_errors_use_the_query_codes(server: LambkinServer) -> None:
    sqs = _client(server, "sqs", secret="not-the-secret")
    with pytest.raises(ClientError) as raised:
        sqs.list_queues()
    assert _code(raised.value) == ("SignatureDoesNotMatch", 403)
    stranger = _client(server, "sqs", key="AKIDNOTOURS")
    with pytest.raises(ClientError) as raised:
        stranger.list_queues()
    assert _code(raised.value) == ("InvalidClientTokenId", 403)


def test_logs_auth_errors(server: LambkinServer) -> None:
    logs = _client(server, "logs", key="AKIDNOTOURS")
    with pytest.raises(ClientError) as raised:
        logs.describe_log_groups()
    assert _code(raised.value) == ("UnrecognizedClientException", 403)


def test_aws_cli_is_served_and_prints_aws_errors(server: LambkinServer) -> None:
    served = _aws(server, "lambda", "get-account-settings")
    assert served.returncode == 0, served.stderr
    assert "ConcurrentExecutions" in json.loads(served.stdout)["AccountLimit"]
    refused = _aws(server, "lambda", "get-account-settings", secret="not-the-secret")
    assert refused.returncode != 0
    assert (
        "An error occurred (InvalidSignatureException) when calling the GetAccountSettings operation: "
        "The request signature we calculated does not match the signature you provided." in refused.stderr
    )
    missing = _aws(server, "lambda", "get-function", "--function-name", "no-such-function")
    assert missing.returncode != 0
    assert (
        "An error occurred (ResourceNotFoundException) when calling the GetFunction operation"
        in missing.stderr
    )


def test_aws_cli_prints_sqs_and_logs_auth_errors(server: LambkinServer) -> None:
    sqs = _aws(server, "sqs", "list-queues", secret="not-the-secret")
    assert sqs.returncode != 0
    assert "An error occurred (SignatureDoesNotMatch) when calling the ListQueues operation" in sqs.stderr
    logs = _aws(server, "logs", "describe-log-groups", secret="not-the-secret")
    assert logs.returncode != 0
    assert (
        "An error occurred (InvalidSignatureException) when calling the DescribeLogGroups operation"
        in logs.stderr
    )
