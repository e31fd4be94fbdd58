"""SigV4: every request is verified with botocore's signer; failures are each service's auth errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from lambkin.credentials import Credentials
from tests.unit.protocol.wire import Answer, build, client, echo, gateway, send, write_query_model


def _lambda_app(now: datetime | None = None) -> Any:
    handler, _ = echo({"AccountUsage": {"FunctionCount": 0}})
    return gateway({"lambda": {"GetAccountSettings": handler}, "sqs": {"ListQueues": echo({})[0]}}, now=now)


def _rest_error(answer: Answer) -> tuple[int, str, str]:
    body = json.loads(answer.body)
    return answer.status, answer.headers["x-amzn-errortype"], body["message"]


def test_good_signature_passes() -> None:
    assert send(_lambda_app(), build("lambda", "GetAccountSettings", {})).status == 200


def test_unknown_access_key_is_unrecognized_client() -> None:
    request = build("lambda", "GetAccountSettings", {}, credentials=Credentials("AKIDOTHER", "test-secret"))
    assert _rest_error(send(_lambda_app(), request)) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_wrong_secret_is_invalid_signature() -> None:
    request = build("lambda", "GetAccountSettings", {}, credentials=Credentials("AKIDTEST", "wrong"))
    status, code, message = _rest_error(send(_lambda_app(), request))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )


@pytest.mark.parametrize("minutes", [16, -16])
def test_clock_skew_over_fifteen_minutes_is_rejected(minutes: int) -> None:
    request = build("lambda", "GetAccountSettings", {})
    later = datetime.now(UTC) + timedelta(minutes=minutes)
    status, code, message = _rest_error(send(_lambda_app(now=later), request))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired:" if minutes > 0 else "Signature not yet current:")


def test_skew_within_fifteen_minutes_is_accepted() -> None:
    request = build("lambda", "GetAccountSettings", {})
    assert send(_lambda_app(now=datetime.now(UTC) + timedelta(minutes=14)), request).status == 200


def test_missing_authentication() -> None:
    request = build("lambda", "GetAccountSettings", {}, sign=False)
    assert _rest_error(send(_lambda_app(), request)) == (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_changed_body_or_host_breaks_the_signature() -> None:
    request = build("lambda", "Invoke", {"FunctionName": "fn", "Payload": b'{"a":1}'})
    request.body = b'{"a":2}'
    del request.headers["Content-Length"]
    request.headers["Content-Length"] = "7"
    assert _rest_error(send(_lambda_app(), request))[1] == "InvalidSignatureException"
    moved = build("lambda", "GetAccountSettings", {})
    moved.headers["host"] = "elsewhere:9000"
    assert _rest_error(send(_lambda_app(), moved))[1] == "InvalidSignatureException"


def test_unsigned_headers_may_change() -> None:
    request = build("lambda", "GetAccountSettings", {})
    request.headers["User-Agent"] = "a proxy rewrote me"
    request.headers["X-Forwarded-For"] = "10.0.0.1"
    assert send(_lambda_app(), request).status == 200


def _signed(method: str, url: str, body: bytes, headers: dict[str, str], service: str = "lambda") -> Any:
    raw = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(BotoCredentials("AKIDTEST", "test-secret"), service, "us-east-1").add_auth(raw)
    return raw.prepare()


def test_content_sha256_header_must_match_the_body() -> None:
    url = "http://localhost:9000/2016-08-19/account-settings/"
    good = _signed("GET", url, b"", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert send(_lambda_app(), good).status == 200
    lying = _signed("GET", url, b"", {"X-Amz-Content-SHA256": "0" * 64})
    assert _rest_error(send(_lambda_app(), lying))[1] == "InvalidSignatureException"


def test_presigned_url_works_and_expires() -> None:
    app = _lambda_app()
    url = client(app, "lambda").generate_presigned_url("get_account_settings", ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    request = AWSRequest(method="GET", url=url).prepare()
    assert send(app, request).status == 200
    late = _lambda_app(now=datetime.now(UTC) + timedelta(minutes=2))
    status, code, message = _rest_error(send(late, request))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired")
    tampered = AWSRequest(method="GET", url=url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")).prepare()
    assert _rest_error(send(app, tampered))[1] == "InvalidSignatureException"


def test_sqs_json_auth_errors_carry_query_codes() -> None:
    sqs = client(_lambda_app(), "sqs", secret="wrong")
    with pytest.raises(sqs.exceptions.ClientError) as raised:
        sqs.list_queues()
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    request = build("sqs", "ListQueues", {}, credentials=Credentials("AKIDOTHER", "x"))
    answer = send(_lambda_app(), request)
    assert answer.headers["x-amzn-query-error"] == "InvalidClientTokenId;Sender"


def test_sqs_query_auth_errors_are_xml(tmp_path: Path) -> None:
    sqs = client(_lambda_app(), "sqs", model_dir=write_query_model(tmp_path), secret="wrong")
    with pytest.raises(sqs.exceptions.ClientError) as raised:
        sqs.list_queues()
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_presigned_query_protocol_request(tmp_path: Path) -> None:
    app = _lambda_app()
    url = client(app, "sqs", model_dir=write_query_model(tmp_path)).generate_presigned_url("list_queues")
    assert "Action=ListQueues" in url
    # botocore signs the operation's own method (POST) into the URL; the parameters are all in the query.
    answer = send(app, AWSRequest(method="POST", url=url).prepare())
    assert answer.status == 200
    assert b"<ListQueuesResponse" in answer.body
