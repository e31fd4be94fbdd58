"""Functions reach lambkin's AWS API from inside their sandbox: AWS_ENDPOINT_URL, a session of their role,
the relay; a role that is gone fails the cold start."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import TRUST_POLICY, create_active
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

pytestmark = pytest.mark.runc


def run(lam: Any, name: str, event: object) -> Any:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


def session_client(server: LambkinServer, service: str, env: dict[str, str]) -> Any:
    """A client that signs with a sandbox's credentials, from outside it."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


def lambda_role(server: LambkinServer, name: str, policy: dict[str, Any] | None = None) -> str:
    """A role Lambda may assume, with an inline policy if given."""
    iam = server.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return str(arn)


def create_with_role(lam: Any, name: str, uri: str, role: str, command: str) -> None:
    lam.create_function(
        FunctionName=name,
        Role=role,
        PackageType="Image",
        Code={"ImageUri": uri},
        ImageConfig={"Command": [command]},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
    )


def test_the_sandbox_sees_an_endpoint_and_a_session_of_its_role(
    server: LambkinServer, handlers_uri: str
) -> None:
    lam = server.client("lambda")
    create_active(lam, "endpoint-env", handlers_uri, ImageConfig={"Command": ["app.env"]})
    env = run(lam, "endpoint-env", {})["environ"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9002"
    # Temporary credentials of the function's execution role, never the server's key.
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_ACCESS_KEY_ID"] != ACCESS_KEY_ID
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SECRET_ACCESS_KEY"] != SECRET_ACCESS_KEY
    me = session_client(server, "sts", env).get_caller_identity()
    assert me["Arn"] == "arn:aws:sts::000000000000:assumed-role/lambkin-test/endpoint-env"
    role_id = server.client("iam").get_role(RoleName="lambkin-test")["Role"]["RoleId"]
    assert me["UserId"] == f"{role_id}:endpoint-env"


def test_a_function_whose_role_is_gone_fails_its_cold_start_with_lambdas_error(
    server: LambkinServer, handlers_uri: str
) -> None:
    lam = server.client("lambda")
    create_with_role(lam, "endpoint-orphan", handlers_uri, lambda_role(server, "doomed"), "app.env")
    server.client("iam").delete_role(RoleName="doomed")

    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="endpoint-orphan", Payload=b"{}")

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == (
        "The role defined for the function cannot be assumed by Lambda."
    )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_signed_request_from_inside_the_sandbox_reaches_lambkin(
    server: LambkinServer, handlers_uri: str
) -> None:
    lam = server.client("lambda")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="from-inside")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create_active(lam, "endpoint-net", handlers_uri, ImageConfig={"Command": ["app.network"]})
    env_fn = "endpoint-env-2"
    sends = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}],
    }
    create_with_role(lam, env_fn, handlers_uri, lambda_role(server, "endpoint-sender", sends), "app.env")
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
