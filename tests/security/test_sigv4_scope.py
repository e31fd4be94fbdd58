"""A request signed for another region or another service is refused, in AWS's words, as AWS refuses it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

OTHER_REGION = "eu-west-1"
CALLS: dict[str, Any] = {
    "lambda": lambda c: c.list_functions(),
    "sqs": lambda c: c.list_queues(),
    "logs": lambda c: c.describe_log_groups(),
    "sts": lambda c: c.get_caller_identity(),
    "iam": lambda c: c.list_roles(),
}
CODES = {
    "lambda": "InvalidSignatureException",
    "sqs": "SignatureDoesNotMatch",  # the query code, as SQS's json protocol gives it to query-compatible SDKs
    "logs": "InvalidSignatureException",
    "sts": "SignatureDoesNotMatch",
    "iam": "SignatureDoesNotMatch",
}


def client(server: LambkinServer, service: str, region: str) -> Any:
    return server.client(service, region=region, config=Config(retries={"max_attempts": 0}))


@pytest.mark.parametrize("service", sorted(CALLS))
def test_the_servers_region_is_served(server: LambkinServer, service: str) -> None:
    answer = CALLS[service](client(server, service, REGION))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("service", sorted(CALLS))
def test_another_region_is_refused(server: LambkinServer, service: str) -> None:
    with pytest.raises(ClientError) as caught:
        CALLS[service](client(server, service, OTHER_REGION))
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == CODES[service]
    assert (
        error["Error"]["Message"].strip()
        == f"Credential should be scoped to a valid region, not '{OTHER_REGION}'."
    )


def signed(
    server: LambkinServer, signing_name: str, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    """A request correctly signed with the server's key, but for the service `signing_name`."""
    body = b"{}" if method == "POST" else b""
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), signing_name, REGION).add_auth(request)
    return httpx.request(method, request.url, content=body, headers=dict(request.headers.items()))


@pytest.mark.parametrize(
    ("service", "method", "path", "headers"),
    [
        ("lambda", "GET", "/2015-03-31/functions/", {}),
        (
            "sqs",
            "POST",
            "/",
            {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"},
        ),
        (
            "logs",
            "POST",
            "/",
            {"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"},
        ),
    ],
)
def test_another_service_is_refused(
    server: LambkinServer, service: str, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = signed(server, "s3", method, path, headers)
    assert answer.status_code == 403
    assert answer.json()["message"].strip() == f"Credential should be scoped to correct service: '{service}'."
