"""JSON bodies nested far deeper than any parser recurses are the service's 400, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

DEPTH = 100_000
DEEP_ARRAY = b"[" * DEPTH + b"]" * DEPTH
DEEP_OBJECT = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def function(lam: Any, server: LambkinServer, test_images: BuiltImages) -> str:
    uri = test_images.push("python-handlers", server.registry, tag="v1")
    create_active(lam, "deep", uri, ImageConfig={"Command": ["app.echo"]})
    return "deep"


@pytest.mark.parametrize("payload", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_deep_invoke_payload_is_invalid_request_content(
    lam: Any, function: str, payload: bytes, invocation_type: str
) -> None:
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, Payload=payload, InvocationType=invocation_type)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["Error"]["Message"].startswith("Could not parse request body into json: ")
    assert "nesting" in error["Error"]["Message"]


def signed_json_post(server: LambkinServer, service: str, target: str, body: bytes) -> httpx.Response:
    """A correctly signed json-protocol request whose body is `body`, as any SDK would send it."""
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), service, REGION).add_auth(request)
    return httpx.post(request.url, content=body, headers=dict(request.headers.items()), timeout=60)


@pytest.mark.parametrize(
    ("service", "target"),
    [("sqs", "AmazonSQS.SendMessage"), ("logs", "Logs_20140328.PutLogEvents")],
)
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_protocol_body_is_a_client_error(
    server: LambkinServer, service: str, target: str, body: bytes
) -> None:
    answer = signed_json_post(server, service, target, body)
    assert answer.status_code == 400, answer.text
    assert "nesting" in answer.json()["message"]


@pytest.mark.parametrize("attribute", ["RedrivePolicy", "RedriveAllowPolicy"])
def test_deep_json_in_a_queue_attribute_is_refused_like_any_bad_json(
    server: LambkinServer, attribute: str
) -> None:
    sqs = server.client("sqs", config=Config(retries={"max_attempts": 0}))
    queue = sqs.create_queue(QueueName=f"deep-{attribute}")["QueueUrl"]
    answers = []
    for value in ("not json", DEEP_ARRAY.decode()):
        with pytest.raises(ClientError) as caught:
            sqs.set_queue_attributes(QueueUrl=queue, Attributes={attribute: value})
        error = caught.value.response
        answers.append((error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]))
    assert answers[1] == answers[0]
    assert answers[0][0] == 400
