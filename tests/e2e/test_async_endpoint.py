"""Functions reach lambkin's AWS API from inside their sandbox: AWS_ENDPOINT_URL, credentials, the relay."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

pytestmark = pytest.mark.runc


def run(lam: Any, name: str, event: object) -> Any:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


def test_the_sandbox_sees_an_endpoint_and_credentials(server: LambkinServer, handlers_uri: str) -> None:
    lam = server.client("lambda")
    create_active(lam, "endpoint-env", handlers_uri, ImageConfig={"Command": ["app.env"]})
    env = run(lam, "endpoint-env", {})["environ"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9002"
    # The function's own key pair, never the server's.
    assert env["AWS_ACCESS_KEY_ID"].startswith("LKFN") and env["AWS_ACCESS_KEY_ID"] != ACCESS_KEY_ID
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SECRET_ACCESS_KEY"] != SECRET_ACCESS_KEY
    assert env["AWS_SESSION_TOKEN"] == "lambkin-function-endpoint-env"


def test_a_signed_request_from_inside_the_sandbox_reaches_lambkin(
    server: LambkinServer, handlers_uri: str
) -> None:
    lam = server.client("lambda")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="from-inside")["QueueUrl"]
    create_active(lam, "endpoint-net", handlers_uri, ImageConfig={"Command": ["app.network"]})
    env_fn = "endpoint-env-2"
    create_active(lam, env_fn, handlers_uri, ImageConfig={"Command": ["app.env"]})
    env = run(lam, env_fn, {})["environ"]
    # An SDK's SendMessage, signed with the sandbox's own credentials for its AWS_ENDPOINT_URL, sent as raw
    # bytes from inside the sandbox (the test image has no boto3).
    body = urlencode(
        {
            "Action": "SendMessage",
            "Version": "2012-11-05",
            "QueueUrl": url,
            "MessageBody": "hi from a sandbox",
        }
    )
    request = AWSRequest(
        "POST",
        env["AWS_ENDPOINT_URL"] + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]
    )
    SigV4Auth(credentials, "sqs", REGION).add_auth(request)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    raw = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:9002\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    answer = run(lam, "endpoint-net", {"host": "127.0.0.1", "port": 9002, "send": raw, "timeout": 5})
    assert answer["connected"], answer
    assert answer["received"].startswith("HTTP/1.1 200"), answer["received"]
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "hi from a sandbox"
