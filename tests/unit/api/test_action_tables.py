"""The action tables: every operation lambkin serves has an IAM action, and each names the action and
resource AWS's Service Authorization Reference gives it, with the resource's own policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambkin import app, wiring
from lambkin.api.authorize import ActionTable, Target, build_authorize, unmapped
from lambkin.api.iam_actions import iam_actions, sts_actions
from lambkin.api.lambda_actions import lambda_actions
from lambkin.config import Settings
from lambkin.functions.changes import ConfigChange
from lambkin.functions.control import build_control_plane
from lambkin.functions.names import FunctionRef
from lambkin.functions.policies import Permission
from lambkin.identity.principals import Principal, root
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import RequestContext
from lambkin.queues import permissions
from lambkin.queues.move_tasks import MoveTask
from lambkin.queues.storage import QueueRow
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.images import FakeImageResolver

ACCOUNT = "000000000000"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"
USER = Principal("user", f"arn:aws:iam::{ACCOUNT}:user/dev", ACCOUNT, "AIDAEXAMPLE", "dev")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[app.Lambkin]:
    built = app.build(Settings(data_dir=tmp_path_factory.mktemp("data")))
    yield built
    built.close()


@pytest.fixture(scope="module")
def tables(server: app.Lambkin) -> dict[str, ActionTable]:
    return wiring.action_tables(server.settings, server.control_plane, server.queues)


def context(service: str, operation: str, caller: Principal = USER) -> RequestContext:
    return RequestContext(
        service=service,
        operation=operation,
        region="us-east-1",
        account_id=ACCOUNT,
        access_key_id="AKIDEXAMPLE",
        caller=caller,
        request_id="r",
        headers={},
        source_ip="127.0.0.1",
    )


def target(tables: dict[str, ActionTable], service: str, operation: str, **arguments: Any) -> Target | None:
    return tables[service][operation](arguments, context(service, operation))


def test_every_operation_the_gateway_serves_has_an_action(
    server: app.Lambkin, tables: dict[str, ActionTable]
) -> None:
    served = server.aws.gateway.services
    assert {"lambda", "sqs", "logs"} <= set(served)
    assert unmapped(tables, served) == []


def test_an_operation_without_an_action_is_refused_at_wiring() -> None:
    async def handler(arguments: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match=r"operations without an IAM action: lambda\.Brand_New"):
        build_authorize(Refuses(), {"lambda": {}}, {"lambda": {"Brand_New": handler}})


@pytest.mark.parametrize(
    ("arguments", "resource"),
    [
        ({"FunctionName": "f"}, FUNCTION + "f"),
        ({"FunctionName": "f", "Qualifier": "live"}, FUNCTION + "f:live"),
        ({"FunctionName": "f:3"}, FUNCTION + "f:3"),
        ({"FunctionName": f"{ACCOUNT}:function:f"}, FUNCTION + "f"),
        ({"FunctionName": FUNCTION + "f:$LATEST"}, FUNCTION + "f:$LATEST"),
    ],
)
def test_invoke_is_invoke_function_on_the_function_as_named(
    tables: dict[str, ActionTable], arguments: dict[str, Any], resource: str
) -> None:
    for operation in ("Invoke", "InvokeWithResponseStream"):
        assert tables["lambda"][operation](arguments, context("lambda", operation)) == Target(
            "lambda:InvokeFunction", resource
        )


def test_lambda_operations_name_their_actions_and_resources(tables: dict[str, ActionTable]) -> None:
    assert target(tables, "lambda", "ListFunctions") == Target("lambda:ListFunctions", "*")
    assert target(tables, "lambda", "GetAccountSettings") == Target("lambda:GetAccountSettings", "*")
    assert target(tables, "lambda", "CreateAlias", FunctionName="f", Name="a") == Target(
        "lambda:CreateAlias", FUNCTION + "f"
    )
    assert target(tables, "lambda", "UpdateFunctionCode", FunctionName=FUNCTION + "f") == Target(
        "lambda:UpdateFunctionCode", FUNCTION + "f"
    )
    assert target(tables, "lambda", "GetEventSourceMapping", UUID="u-1") == Target(
        "lambda:GetEventSourceMapping", f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:u-1"
    )
    assert target(tables, "lambda", "CreateEventSourceMapping", FunctionName="f", EventSourceArn="x") == (
        Target("lambda:CreateEventSourceMapping", "*", keys=(("lambda:FunctionArn", FUNCTION + "f"),))
    )
    assert target(tables, "lambda", "CreateFunctionUrlConfig", FunctionName="f", AuthType="NONE") == Target(
        "lambda:CreateFunctionUrlConfig", FUNCTION + "f", keys=(("lambda:FunctionUrlAuthType", "NONE"),)
    )
    assert target(tables, "lambda", "TagResource", Resource=FUNCTION + "f", Tags={}) == Target(
        "lambda:TagResource", FUNCTION + "f"
    )


async def test_a_function_policy_is_the_resource_policy_of_its_target(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "lambkin.db")
    db.migrate(wiring.migrations())
    plane = build_control_plane(db, "us-east-1", ACCOUNT, FakeImageResolver(), role_check=lambda role: True)
    await plane.functions.create(
        "granted", f"arn:aws:iam::{ACCOUNT}:role/r", "localhost/app:v1", ConfigChange()
    )
    await plane.policies.add(FunctionRef("granted"), Permission("s", "lambda:InvokeFunction", "*"), None)
    table = lambda_actions(plane.arns, plane.policies)
    found = table["Invoke"]({"FunctionName": "granted"}, context("lambda", "Invoke"))
    assert found is not None and found.policy == plane.policies.text("granted", None)
    assert found.policy is not None and '"Sid":"s"' in found.policy
    latest = table["Invoke"]({"FunctionName": "granted:$LATEST"}, context("lambda", "Invoke"))
    assert latest is not None and latest.policy == found.policy
    aliased = table["Invoke"]({"FunctionName": "granted:live"}, context("lambda", "Invoke"))
    assert aliased is not None and aliased.policy is None
    db.close()


def test_sqs_operations_act_on_the_queue_and_batches_as_their_single_forms(
    tables: dict[str, ActionTable],
) -> None:
    url = f"http://localhost:9000/{ACCOUNT}/jobs"
    assert target(tables, "sqs", "SendMessageBatch", QueueUrl=url, Entries=[]) == Target(
        "sqs:SendMessage", QUEUE + "jobs"
    )
    assert target(tables, "sqs", "DeleteMessageBatch", QueueUrl=url, Entries=[]) == Target(
        "sqs:DeleteMessage", QUEUE + "jobs"
    )
    assert target(tables, "sqs", "ChangeMessageVisibilityBatch", QueueUrl=url, Entries=[]) == Target(
        "sqs:ChangeMessageVisibility", QUEUE + "jobs"
    )
    assert target(tables, "sqs", "CreateQueue", QueueName="new") == Target("sqs:CreateQueue", QUEUE + "new")
    assert target(tables, "sqs", "GetQueueUrl", QueueName="jobs") == Target("sqs:GetQueueUrl", QUEUE + "jobs")
    assert target(tables, "sqs", "ListQueues") == Target("sqs:ListQueues", "*")


def test_sqs_move_tasks_act_on_their_source_queue(tables: dict[str, ActionTable]) -> None:
    dlq, elsewhere = QUEUE + "dead", QUEUE + "elsewhere"
    takes = tuple(Target(f"sqs:{a}", dlq) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"))
    assert target(tables, "sqs", "StartMessageMoveTask", SourceArn=dlq) == Target(
        "sqs:StartMessageMoveTask", dlq, also=takes
    )
    assert target(tables, "sqs", "StartMessageMoveTask", SourceArn=dlq, DestinationArn=elsewhere) == Target(
        "sqs:StartMessageMoveTask", dlq, also=(*takes, Target("sqs:SendMessage", elsewhere))
    )
    assert target(tables, "sqs", "ListMessageMoveTasks", SourceArn=dlq) == Target(
        "sqs:ListMessageMoveTasks", dlq, also=(Target("sqs:GetQueueAttributes", dlq),)
    )
    handle = MoveTask("t", "dead", dlq, None, None, "RUNNING", 0, 0, 0).handle
    assert target(tables, "sqs", "CancelMessageMoveTask", TaskHandle=handle) == Target(
        "sqs:CancelMessageMoveTask", dlq, also=takes
    )
    assert target(tables, "sqs", "CancelMessageMoveTask", TaskHandle="junk") == Target(
        "sqs:CancelMessageMoveTask", "*"
    )


def test_a_queue_policy_is_the_resource_policy_of_its_queue(
    server: app.Lambkin, tables: dict[str, ActionTable]
) -> None:
    registry = server.queues.registry
    policy = permissions.add_permission(None, QUEUE + "shared", "partner", ["111122223333"], ["SendMessage"])
    registry.restore(QueueRow("shared", False, {"Policy": policy}, {}, 0, 0, 0))
    found = target(tables, "sqs", "SendMessage", QueueUrl=f"http://h/{ACCOUNT}/shared", MessageBody="x")
    assert found == Target("sqs:SendMessage", QUEUE + "shared", policy)
    assert '"Sid":"partner"' in policy
    unknown = target(tables, "sqs", "SendMessage", QueueUrl=f"http://h/{ACCOUNT}/nobody", MessageBody="x")
    assert unknown == Target("sqs:SendMessage", QUEUE + "nobody")


def test_logs_operations_act_on_the_log_group_and_stream(tables: dict[str, ActionTable]) -> None:
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
    assert target(tables, "logs", "DescribeLogGroups") == Target(
        "logs:DescribeLogGroups", group + ":log-stream:"
    )
    assert target(tables, "logs", "FilterLogEvents", logGroupName="/aws/lambda/f") == Target(
        "logs:FilterLogEvents", group + "/aws/lambda/f:log-stream:"
    )
    assert target(
        tables, "logs", "DescribeLogStreams", logGroupIdentifier=group + "/aws/lambda/f:*"
    ) == Target("logs:DescribeLogStreams", group + "/aws/lambda/f:log-stream:")
    assert target(tables, "logs", "GetLogEvents", logGroupName="/aws/lambda/f", logStreamName="s1") == Target(
        "logs:GetLogEvents", group + "/aws/lambda/f:log-stream:s1"
    )


class Refuses:
    """A decider that refuses everything, naming what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def refusal(
        self, principal: Principal, action: str, resource: str, *args: Any, **kwargs: Any
    ) -> str | None:
        self.asked.append((action, resource))
        return f"User: {principal.arn} may not {action} on {resource}"


async def _noop(arguments: dict[str, Any], context: RequestContext) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize(
    ("service", "operation", "code", "status", "query_code"),
    [
        ("lambda", "ListFunctions", "AccessDeniedException", 403, None),
        ("sqs", "ListQueues", "AccessDeniedException", 403, "AccessDenied"),
        ("logs", "DescribeLogGroups", "AccessDeniedException", None, None),
    ],
)
def test_a_refusal_is_the_services_access_denied(
    tables: dict[str, ActionTable],
    service: str,
    operation: str,
    code: str,
    status: int | None,
    query_code: str | None,
) -> None:
    decider = Refuses()
    authorize = build_authorize(decider, tables, {service: {operation: _noop}})
    with pytest.raises(AwsError) as refused:
        authorize(context(service, operation), {})
    assert (refused.value.code, refused.value.status, refused.value.query_code) == (code, status, query_code)
    assert refused.value.message.startswith(f"User: {USER.arn} may not ")


def test_the_root_is_never_asked(tables: dict[str, ActionTable]) -> None:
    decider = Refuses()
    authorize = build_authorize(decider, tables, {"lambda": {"ListFunctions": _noop}})
    authorize(context("lambda", "ListFunctions", root(ACCOUNT)), {})
    assert decider.asked == []


def test_iam_operations_are_the_action_of_their_name_on_the_entity_they_name() -> None:
    iam = iam_actions(
        ACCOUNT, ["CreateRole", "PutRolePolicy", "ListRoles", "AttachUserPolicy", "CreatePolicy"]
    )
    ctx = context("iam", "CreateRole")
    assert iam["CreateRole"]({"RoleName": "worker", "Path": "/service/"}, ctx) == Target(
        "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/service/worker"
    )
    assert iam["PutRolePolicy"]({"RoleName": "worker", "PolicyName": "p"}, ctx) == Target(
        "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/worker"
    )
    assert iam["ListRoles"]({}, ctx) == Target("iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/")
    policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert iam["AttachUserPolicy"]({"UserName": "dev", "PolicyArn": policy_arn}, ctx) == Target(
        "iam:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT}:user/dev"
    )
    assert iam["CreatePolicy"]({"PolicyName": "p", "PolicyDocument": "{}"}, ctx) == Target(
        "iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/p"
    )


def test_sts_get_caller_identity_is_free_and_assume_role_is_left_to_sts() -> None:
    sts = sts_actions(["AssumeRole", "GetCallerIdentity", "GetSessionToken"])
    ctx = context("sts", "AssumeRole")
    assert (
        sts["AssumeRole"]({"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/worker", "RoleSessionName": "s"}, ctx)
        is None
    )
    assert sts["GetCallerIdentity"]({}, ctx) is None
    assert sts["GetSessionToken"]({}, ctx) == Target("sts:GetSessionToken", "*")


def test_iam_operations_without_a_user_name_act_on_the_caller() -> None:
    iam = iam_actions(ACCOUNT, ["GetUser", "ListAccessKeys", "DeleteAccessKey"])
    ctx = context("iam", "GetUser")
    assert iam["GetUser"]({}, ctx) == Target("iam:GetUser", USER.arn)
    assert iam["ListAccessKeys"]({}, ctx) == Target("iam:ListAccessKeys", USER.arn)
    assert iam["DeleteAccessKey"]({"AccessKeyId": "AKIAEXAMPLE"}, ctx) == Target(
        "iam:DeleteAccessKey", USER.arn
    )
