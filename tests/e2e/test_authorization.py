"""Every operation checks who asks, with boto3 and the AWS CLI against a running server: IAM users and
assumed roles get what their policies allow and each service's AccessDenied otherwise; an explicit deny
beats an allow; resource-based policies (a function's, a queue's) let another principal in."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.cli import run_aws
from tests.e2e.lambda_support import create, create_active, push
from tests.e2e.test_http_function_urls import to_local
from tests.harness import REGION, LambkinServer

ACCOUNT = "000000000000"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
LAMBDA_FULL = "arn:aws:iam::aws:policy/AWSLambda_FullAccess"
Key = tuple[str, str, str | None]  # access key ID, secret, session token


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def client(server: LambkinServer, service: str, key: Key) -> Any:
    return server.client(service, key[:2], key[2])


def user(server: LambkinServer, name: str, *managed: str, inline: str | None = None) -> Key:
    """An IAM user with these policies and an access key."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], None


def role_session(server: LambkinServer, name: str, inline: str | None = None) -> tuple[str, Key]:
    """A role its assumer (a user the trust policy names) may assume, and a session of it."""
    iam = server.client("iam")
    assumer = user(server, f"{name}-assumer")
    assumer_arn = iam.get_user(UserName=f"{name}-assumer")["User"]["Arn"]
    trust = document({"Effect": "Allow", "Principal": {"AWS": assumer_arn}, "Action": "sts:AssumeRole"})
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if inline is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=inline)
    credentials = client(server, "sts", assumer).assume_role(RoleArn=arn, RoleSessionName="session")[
        "Credentials"
    ]
    return arn, (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])


def refused(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.fixture(scope="module")
def image(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    uri, _ = push(server, tmp_path_factory.mktemp("images"), "authz-app", "v1", "authz")
    create(server.client("lambda"), "guarded", uri)
    return uri


def test_a_read_only_user_lists_but_cannot_create(server: LambkinServer, image: str) -> None:
    key = user(server, "reader", READ_ONLY)
    lam, sqs = client(server, "lambda", key), client(server, "sqs", key)
    assert "guarded" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.get_function(FunctionName="guarded")["Configuration"]["FunctionName"] == "guarded"
    sqs.list_queues()
    me = f"arn:aws:iam::{ACCOUNT}:user/reader"
    assert refused(lam.delete_function, FunctionName="guarded") == (
        "AccessDeniedException",
        403,
        f"User: {me} is not authorized to perform: lambda:DeleteFunction on resource: {FUNCTION}guarded "
        "because no identity-based policy allows the lambda:DeleteFunction action",
    )
    assert refused(sqs.create_queue, QueueName="by-reader") == (
        "AccessDenied",
        403,
        f"User: {me} is not authorized to perform: sqs:CreateQueue on resource: {QUEUE}by-reader "
        "because no identity-based policy allows the sqs:CreateQueue action",
    )
    code, status, _ = refused(client(server, "iam", key).create_user, UserName="mallory")
    assert (code, status) == ("AccessDenied", 403)
    assert server.client("lambda").get_function(FunctionName="guarded")  # still there


def test_an_explicit_deny_beats_an_allow(server: LambkinServer, image: str) -> None:
    deny = document({"Effect": "Deny", "Action": "lambda:GetFunction*", "Resource": FUNCTION + "guarded"})
    key = user(server, "denied", LAMBDA_FULL, inline=deny)
    lam = client(server, "lambda", key)
    assert lam.list_functions()["Functions"]
    assert refused(lam.get_function_configuration, FunctionName="guarded") == (
        "AccessDeniedException",
        403,
        f"User: arn:aws:iam::{ACCOUNT}:user/denied is not authorized to perform: "
        f"lambda:GetFunctionConfiguration on resource: {FUNCTION}guarded with an explicit deny in an "
        "identity-based policy",
    )


def test_a_role_sends_to_the_queue_its_policy_names_and_no_other(server: LambkinServer) -> None:
    admin = server.client("sqs")
    allowed = admin.create_queue(QueueName="allowed")["QueueUrl"]
    other = admin.create_queue(QueueName="other")["QueueUrl"]
    sends = document({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE + "allowed"})
    _, session = role_session(server, "sender", sends)
    sqs = client(server, "sqs", session)
    sqs.send_message(QueueUrl=allowed, MessageBody="hello")
    code, status, message = refused(sqs.send_message, QueueUrl=other, MessageBody="hello")
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/sender/session is not authorized to perform: sqs:SendMessage "
        f"on resource: {QUEUE}other because no identity-based policy allows the sqs:SendMessage action"
    )
    assert refused(sqs.receive_message, QueueUrl=allowed)[0] == "AccessDenied"


def test_a_queue_policy_naming_a_role_lets_it_send(server: LambkinServer) -> None:
    admin = server.client("sqs")
    url = admin.create_queue(QueueName="shared-by-policy")["QueueUrl"]
    role, session = role_session(server, "partner")
    sqs = client(server, "sqs", session)
    assert refused(sqs.send_message, QueueUrl=url, MessageBody="x")[0] == "AccessDenied"
    policy = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE + "shared-by-policy",
        }
    )
    admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    sqs.send_message(QueueUrl=url, MessageBody="x")
    admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert refused(sqs.send_message, QueueUrl=url, MessageBody="x")[0] == "AccessDenied"


def test_add_permission_lets_another_role_in_and_remove_permission_takes_it_back(
    server: LambkinServer, image: str
) -> None:
    role, session = role_session(server, "reader-role")
    lam, admin = client(server, "lambda", session), server.client("lambda")
    assert refused(lam.get_function, FunctionName="guarded")[0] == "AccessDeniedException"
    admin.add_permission(
        FunctionName="guarded", StatementId="reader", Action="lambda:GetFunction", Principal=role
    )
    assert lam.get_function(FunctionName="guarded")["Configuration"]["FunctionName"] == "guarded"
    assert refused(lam.get_policy, FunctionName="guarded")[0] == "AccessDeniedException"
    admin.remove_permission(FunctionName="guarded", StatementId="reader")
    assert refused(lam.get_function, FunctionName="guarded")[0] == "AccessDeniedException"


def test_the_cli_is_refused_with_the_services_error(server: LambkinServer, image: str) -> None:
    key = user(server, "cli-reader", READ_ONLY)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_aws(server, *args, key=key)

    listed = cli("lambda", "list-functions")
    assert listed.returncode == 0, listed.stderr
    denied = cli("lambda", "delete-function", "--function-name", "guarded")
    assert denied.returncode != 0
    assert "(AccessDeniedException)" in denied.stderr
    assert "is not authorized to perform: lambda:DeleteFunction" in denied.stderr
    purge = cli("sqs", "create-queue", "--queue-name", "cli-reader-queue")
    assert purge.returncode != 0 and "(AccessDenied)" in purge.stderr


@pytest.mark.runc
def test_a_functions_credentials_cannot_read_or_change_another_function(
    server: LambkinServer, handlers_uri: str, image: str
) -> None:
    admin = server.client("lambda")
    create_active(admin, "authz-env", handlers_uri, ImageConfig={"Command": ["app.env"]})
    answer = admin.invoke(FunctionName="authz-env", Payload=b"{}")
    env = json.loads(answer["Payload"].read())["environ"]
    session = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    lam = client(server, "lambda", session)
    me = f"arn:aws:sts::{ACCOUNT}:assumed-role/lambkin-test/authz-env"
    assert refused(lam.get_function, FunctionName="guarded") == (
        "AccessDeniedException",
        403,
        f"User: {me} is not authorized to perform: lambda:GetFunction on resource: {FUNCTION}guarded "
        "because no identity-based policy allows the lambda:GetFunction action",
    )
    code, _, _ = refused(lam.update_function_configuration, FunctionName="guarded", Timeout=30)
    assert code == "AccessDeniedException"
    assert refused(lam.delete_function, FunctionName="authz-env")[0] == "AccessDeniedException"


@pytest.mark.runc
def test_add_permission_lets_another_role_invoke(server: LambkinServer, handlers_uri: str) -> None:
    admin = server.client("lambda")
    create_active(admin, "authz-echo", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    role, session = role_session(server, "invoker")
    lam = client(server, "lambda", session)
    assert refused(lam.invoke, FunctionName="authz-echo", Payload=b"{}")[0] == "AccessDeniedException"
    admin.add_permission(
        FunctionName="authz-echo", StatementId="invoker", Action="lambda:InvokeFunction", Principal=role
    )
    assert lam.invoke(FunctionName="authz-echo", Payload=b'{"a":1}')["StatusCode"] == 200
    admin.remove_permission(FunctionName="authz-echo", StatementId="invoker")
    assert refused(lam.invoke, FunctionName="authz-echo", Payload=b"{}")[0] == "AccessDeniedException"


@pytest.mark.runc
def test_an_aws_iam_function_url_needs_invoke_function_url(server: LambkinServer, handlers_uri: str) -> None:
    admin = server.client("lambda")
    create_active(admin, "authz-url", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    url = admin.create_function_url_config(FunctionName="authz-url", AuthType="AWS_IAM")["FunctionUrl"]
    url_only = document(
        {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": FUNCTION + "authz-url"}
    )
    may = document(
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
            "Resource": FUNCTION + "authz-url",
        }
    )
    outsider, caller = user(server, "url-outsider"), user(server, "url-caller", inline=may)
    half = user(server, "url-half", inline=url_only)  # new URLs need lambda:InvokeFunction too

    def call(key: Key) -> httpx.Response:
        request = AWSRequest(method="GET", url=url + "private")
        SigV4Auth(Credentials(key[0], key[1]), "lambda", REGION).add_auth(request)
        with httpx.Client(timeout=120) as http:
            return http.send(to_local(http, server, request))

    refused_call = call(outsider)
    assert (refused_call.status_code, refused_call.json()) == (403, {"Message": "Forbidden"})
    assert call(half).status_code == 403
    allowed = call(caller)
    assert allowed.status_code == 200, allowed.text
    assert (
        allowed.json()["requestContext"]["authorizer"]["iam"]["userArn"]
        == f"arn:aws:iam::{ACCOUNT}:user/url-caller"
    )
