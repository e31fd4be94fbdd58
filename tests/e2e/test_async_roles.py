"""Async destinations and dead-letter queues need the function's role, end to end with boto3: CreateFunction,
UpdateFunctionConfiguration and Put/UpdateFunctionEventInvokeConfig refuse a target the role may not reach,
accept it once the role (or the target's own policy) allows it, and a record is not delivered where the role
lost its permission after the target was configured."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import create, create_active, execution_role
from tests.harness import LambkinServer

DEAD_LETTER_REFUSED = "The provided execution role does not have permissions to call SendMessage on SQS"


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="module")
def iam(server: LambkinServer) -> Any:
    return server.client("iam")


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def allow(iam: Any, role: str, policy: str, action: str, *resources: str) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": list(resources)}],
    }
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))


def refused(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response: dict[str, Any] = caught.value.response
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response


def test_a_dead_letter_queue_needs_the_role_to_send_to_it(
    lam: Any, sqs: Any, iam: Any, server: LambkinServer, handlers_uri: str
) -> None:
    role = execution_role(server.endpoint, "roles-dlq")
    _, dlq = queue(sqs, "roles-dlq")
    _, other = queue(sqs, "roles-dlq-other")
    answer = refused(
        create,
        client=lam,
        name="roles-dlq-fn",
        image_uri=handlers_uri,
        role=role,
        DeadLetterConfig={"TargetArn": dlq},
    )
    assert answer["Error"]["Message"] == DEAD_LETTER_REFUSED
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="roles-dlq-fn")  # nothing was created

    allow(iam, "roles-dlq", "send-to-dlq", "sqs:SendMessage", dlq)
    created = create_active(lam, "roles-dlq-fn", handlers_uri, role, DeadLetterConfig={"TargetArn": dlq})
    assert created["DeadLetterConfig"] == {"TargetArn": dlq}

    answer = refused(
        lam.update_function_configuration, FunctionName="roles-dlq-fn", DeadLetterConfig={"TargetArn": other}
    )
    assert answer["Error"]["Message"] == DEAD_LETTER_REFUSED
    assert lam.get_function_configuration(FunctionName="roles-dlq-fn")["DeadLetterConfig"] == {
        "TargetArn": dlq
    }


def test_a_queue_destination_needs_the_role_to_send_to_it(
    lam: Any, sqs: Any, iam: Any, server: LambkinServer, handlers_uri: str
) -> None:
    role = execution_role(server.endpoint, "roles-dest")
    _, failures = queue(sqs, "roles-failures")
    _, successes = queue(sqs, "roles-successes")
    create_active(lam, "roles-dest-fn", handlers_uri, role)
    answer = refused(
        lam.put_function_event_invoke_config,
        FunctionName="roles-dest-fn",
        DestinationConfig={"OnFailure": {"Destination": failures}},
    )
    assert answer["Error"]["Message"] == f"The destination ARN {failures} is invalid."
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName="roles-dest-fn")

    allow(iam, "roles-dest", "send-failures", "sqs:SendMessage", failures)
    put = lam.put_function_event_invoke_config(
        FunctionName="roles-dest-fn", DestinationConfig={"OnFailure": {"Destination": failures}}
    )
    assert put["DestinationConfig"]["OnFailure"] == {"Destination": failures}

    answer = refused(
        lam.update_function_event_invoke_config,
        FunctionName="roles-dest-fn",
        DestinationConfig={"OnSuccess": {"Destination": successes}},
    )
    assert answer["Error"]["Message"] == f"The destination ARN {successes} is invalid."
    got = lam.get_function_event_invoke_config(FunctionName="roles-dest-fn")
    assert got["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": failures}}


def test_a_function_destination_needs_the_role_to_invoke_it(
    lam: Any, server: LambkinServer, handlers_uri: str
) -> None:
    role = execution_role(server.endpoint, "roles-chain")
    target = create_active(lam, "roles-chain-target", handlers_uri)["FunctionArn"]
    create_active(lam, "roles-chain-fn", handlers_uri, role)
    answer = refused(
        lam.put_function_event_invoke_config,
        FunctionName="roles-chain-fn",
        DestinationConfig={"OnSuccess": {"Destination": target}},
    )
    assert answer["Error"]["Message"] == f"The destination ARN {target} is invalid."
    # The target's own policy may grant it, as AddPermission for the role does.
    lam.add_permission(
        FunctionName="roles-chain-target",
        StatementId="from-roles-chain-fn",
        Action="lambda:InvokeFunction",
        Principal=role,
    )
    put = lam.put_function_event_invoke_config(
        FunctionName="roles-chain-fn", DestinationConfig={"OnSuccess": {"Destination": target}}
    )
    assert put["DestinationConfig"]["OnSuccess"] == {"Destination": target}


@pytest.mark.runc
def test_a_record_is_not_delivered_where_the_role_lost_its_permission(
    lam: Any, sqs: Any, iam: Any, server: LambkinServer, handlers_uri: str
) -> None:
    role = execution_role(server.endpoint, "roles-late")
    failures_url, failures = queue(sqs, "roles-late-failures")
    dlq_url, dlq = queue(sqs, "roles-late-dlq")
    allow(iam, "roles-late", "send-failures", "sqs:SendMessage", failures)
    allow(iam, "roles-late", "send-dlq", "sqs:SendMessage", dlq)
    create_active(
        lam,
        "roles-late-fn",
        handlers_uri,
        role,
        ImageConfig={"Command": ["app.error"]},
        DeadLetterConfig={"TargetArn": dlq},
    )
    lam.put_function_event_invoke_config(
        FunctionName="roles-late-fn",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures}},
    )
    iam.delete_role_policy(RoleName="roles-late", PolicyName="send-dlq")

    response = lam.invoke(
        FunctionName="roles-late-fn", InvocationType="Event", Payload=b'{"message": "late"}'
    )
    request_id = response["ResponseMetadata"]["RequestId"]
    record = receive_one(sqs, failures_url)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    warning = (
        f"async event {request_id}: the execution role {role} of function roles-late-fn is not allowed "
        f"sqs:SendMessage on {dlq}; the record is not delivered"
    )
    deadline = time.monotonic() + 30
    while warning not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert warning in server.log()
    assert sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", []) == []


def receive_one(sqs: Any, url: str, limit_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
        if messages:
            body: dict[str, Any] = json.loads(messages[0]["Body"])
            return body
    raise AssertionError(f"no message arrived at {url}")
