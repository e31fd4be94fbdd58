"""Two lambkin nodes on one PostgreSQL: a change made through one node is what the other answers within a
second (the bus's news drops or reloads its cached copy), for each kind of control-plane state it keeps in
memory. Each check reads through node B first, so B holds the old state, then changes it through node A."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests import postgres
from tests.e2e.lambda_support import allow_queue_polling, create_active, execution_role, push
from tests.harness import LambkinServer

SEEN_WITHIN_S = 1.0  # issue 16: a change on one node is seen by every other within a second
ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambkinServer, LambkinServer]]:
    database = postgres.shared().create_database()
    started: list[LambkinServer] = []
    try:
        for name in ("a", "b"):
            env = {"LAMBKIN_DATABASE_URL": database, "LAMBKIN_NODE_NAME": name}
            node = LambkinServer(Path(tmp_path_factory.mktemp(f"node-{name}")) / "data", env=env)
            started.append(node.start())
        yield started[0], started[1]
    finally:
        for node in started:
            node.stop()


@pytest.fixture(scope="module")
def a(nodes: tuple[LambkinServer, LambkinServer]) -> LambkinServer:
    return nodes[0]


@pytest.fixture(scope="module")
def b(nodes: tuple[LambkinServer, LambkinServer]) -> LambkinServer:
    return nodes[1]


@pytest.fixture(scope="module")
def function(a: LambkinServer, b: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A function created (and made Active) through node A, its image in A's registry."""
    uri, _ = push(a, tmp_path_factory.mktemp("images"), "cached", "v1", "cached")
    create_active(a.client("lambda"), "cached", uri, Timeout=3)
    return "cached"


def seen(check: Callable[[], bool]) -> bool:
    """Whether `check` holds within SEEN_WITHIN_S of now."""
    deadline = time.monotonic() + SEEN_WITHIN_S
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def code_of(call: Callable[..., Any], **kwargs: Any) -> str | None:
    """The error code of the call, None if it succeeds."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_a_configuration_updated_through_one_node_is_what_the_other_answers(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    on_b = b.client("lambda")
    assert on_b.get_function_configuration(FunctionName=function)["Timeout"] == 3
    a.client("lambda").update_function_configuration(FunctionName=function, Timeout=7)
    assert seen(lambda: on_b.get_function_configuration(FunctionName=function)["Timeout"] == 7)


def test_reserved_concurrency_and_an_alias_set_through_one_node_are_what_the_other_answers(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    on_a, on_b = a.client("lambda"), b.client("lambda")
    assert "Concurrency" not in on_b.get_function(FunctionName=function)
    on_a.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=5)
    assert seen(lambda: on_b.get_function(FunctionName=function).get("Concurrency") is not None)
    on_a.publish_version(FunctionName=function)
    on_a.create_alias(FunctionName=function, Name="live", FunctionVersion="1")
    assert seen(lambda: code_of(on_b.get_function, FunctionName=function, Qualifier="live") is None)
    on_a.update_function_configuration(FunctionName=function, Timeout=9)
    on_a.get_waiter("function_updated_v2").wait(FunctionName=function, WaiterConfig={"Delay": 0.2})
    on_a.publish_version(FunctionName=function)
    assert on_b.get_function(FunctionName=function, Qualifier="live")["Configuration"]["Version"] == "1"
    on_a.update_alias(FunctionName=function, Name="live", FunctionVersion="2")
    assert seen(
        lambda: on_b.get_function(FunctionName=function, Qualifier="live")["Configuration"]["Version"] == "2"
    )


def test_an_event_invoke_config_put_through_one_node_is_what_the_other_answers(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    on_b = b.client("lambda")
    missing = on_b.get_function_event_invoke_config
    assert code_of(missing, FunctionName=function) == "ResourceNotFoundException"
    a.client("lambda").put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    assert seen(lambda: code_of(missing, FunctionName=function) is None)
    assert on_b.get_function_event_invoke_config(FunctionName=function)["MaximumRetryAttempts"] == 0


def test_a_user_key_and_policy_made_through_one_node_sign_and_allow_on_the_other(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    iam = a.client("iam")
    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    pair = (key["AccessKeyId"], key["SecretAccessKey"])
    as_carol = b.client("lambda", key=pair)
    assert seen(lambda: code_of(as_carol.list_functions) == "AccessDeniedException")  # known, not allowed
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:List*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="carol", PolicyName="list", PolicyDocument=json.dumps(document))
    assert seen(lambda: code_of(as_carol.list_functions) is None)
    iam.update_access_key(UserName="carol", AccessKeyId=pair[0], Status="Inactive")
    assert seen(lambda: code_of(as_carol.list_functions) == "UnrecognizedClientException")


def test_a_permission_added_through_one_node_lets_a_caller_in_on_the_other(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    iam = a.client("iam")
    user = iam.create_user(UserName="dave")["User"]
    key = iam.create_access_key(UserName="dave")["AccessKey"]
    as_dave = b.client("lambda", key=(key["AccessKeyId"], key["SecretAccessKey"]))
    assert seen(lambda: code_of(as_dave.get_function, FunctionName=function) == "AccessDeniedException")
    a.client("lambda").add_permission(
        FunctionName=function, StatementId="dave", Action="lambda:GetFunction", Principal=user["Arn"]
    )
    assert seen(lambda: code_of(as_dave.get_function, FunctionName=function) is None)


def test_a_queue_and_a_mapping_made_through_one_node_are_what_the_other_answers(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    allow_queue_polling(a.endpoint)
    sqs_a, sqs_b = a.client("sqs"), b.client("sqs")
    url = sqs_a.create_queue(QueueName="cached-jobs", Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert seen(lambda: code_of(sqs_b.get_queue_url, QueueName="cached-jobs") is None)

    def timeout_on_b() -> str:
        found = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        return str(found["Attributes"]["VisibilityTimeout"])

    assert timeout_on_b() == "40"
    sqs_a.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "50"})
    assert seen(lambda: timeout_on_b() == "50")
    arn = sqs_a.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    on_b = b.client("lambda")
    assert on_b.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []
    created = a.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=function)
    assert seen(lambda: code_of(on_b.get_event_source_mapping, UUID=created["UUID"]) is None)
    a.client("lambda").delete_event_source_mapping(UUID=created["UUID"])

    def state_on_b() -> str | None:  # Deleting until its poller stopped, then gone
        try:
            return str(on_b.get_event_source_mapping(UUID=created["UUID"])["State"])
        except on_b.exceptions.ResourceNotFoundException:
            return None

    assert seen(lambda: state_on_b() in ("Deleting", None))
    sqs_a.delete_queue(QueueUrl=url)
    assert seen(lambda: code_of(sqs_b.get_queue_url, QueueName="cached-jobs") is not None)


def test_a_role_made_through_one_node_is_one_the_other_lets_a_function_use(
    a: LambkinServer, b: LambkinServer, function: str
) -> None:
    on_b = b.client("lambda")
    image = on_b.get_function(FunctionName=function)["Code"]["ImageUri"]
    role = f"arn:aws:iam::{ACCOUNT}:role/cached-role"
    refused = code_of(
        on_b.create_function, FunctionName="on-b", Role=role, PackageType="Image", Code={"ImageUri": image}
    )
    assert refused == "InvalidParameterValueException"
    assert execution_role(a.endpoint, "cached-role") == role
    assert seen(lambda: code_of(on_b.update_function_configuration, FunctionName=function, Role=role) is None)
