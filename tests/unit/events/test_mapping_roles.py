"""Lambda acts with the function's role: creating a queue mapping needs the role to be allowed what the
poller does (sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on the queue), by its own
policies or the queue's; else AWS's InvalidParameterValueException. Real authorizer, fake directory."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.events.errors import InvalidParameterValue
from lambkin.events.mapping_service import FunctionInfo, MappingService, QueueInfo
from lambkin.events.mapping_store import MappingStore
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.directory import Role
from lambkin.store import Store
from lambkin.testing.clock import ManualClock
from lambkin.testing.identity import FakeDirectory
from tests.unit.events.fakes import FN, Q

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def allowing(*actions: str, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


class Functions:
    def __init__(self, role: str) -> None:
        self.role = role

    async def __call__(self, raw_name: str) -> FunctionInfo:
        return FunctionInfo(raw_name, None, FN + raw_name, 3, self.role)


def service(db: Store, directory: FakeDirectory, queue_policy: str | None = None, role: str = ROLE) -> Any:
    queues = {Q + "q": QueueInfo("q", False, 30, queue_policy)}

    async def find_queue(arn: str) -> QueueInfo | None:
        return queues.get(arn)

    authorizer = Authorizer(directory, ACCOUNT)
    return MappingService(
        MappingStore(db),
        Functions(role),
        find_queue,
        "arn:esm:",
        ManualClock(100.0),
        role_may=authorizer.role_may,
    )


@pytest.fixture
def directory() -> FakeDirectory:
    found = FakeDirectory()
    found.put_role(Role(ROLE, "worker", "AROAWORKER", TRUST))
    return found


async def test_a_role_allowed_the_pollers_actions_may_be_mapped(db: Store, directory: FakeDirectory) -> None:
    directory.attach(ROLE, allowing("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"))
    made = await service(db, directory).create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    assert made.function == "f"


@pytest.mark.parametrize(
    ("allowed", "missing"),
    [
        ((), "ReceiveMessage"),
        (("sqs:ReceiveMessage",), "DeleteMessage"),
        (("sqs:ReceiveMessage", "sqs:DeleteMessage"), "GetQueueAttributes"),
    ],
)
async def test_the_first_action_the_role_lacks_is_named(
    db: Store, directory: FakeDirectory, allowed: tuple[str, ...], missing: str
) -> None:
    if allowed:
        directory.attach(ROLE, allowing(*allowed))
    with pytest.raises(InvalidParameterValue) as refused:
        await service(db, directory).create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    assert (
        refused.value.message
        == f"The provided execution role does not have permissions to call {missing} on SQS"
    )


async def test_the_queues_own_policy_may_grant_the_role(db: Store, directory: FakeDirectory) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    "Resource": Q + "q",
                }
            ],
        }
    )
    made = await service(db, directory, policy).create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    assert made.queue == "q"


async def test_a_role_iam_does_not_know_may_not(db: Store, directory: FakeDirectory) -> None:
    with pytest.raises(InvalidParameterValue, match="to call ReceiveMessage on SQS"):
        await service(db, directory, role=f"arn:aws:iam::{ACCOUNT}:role/gone").create(
            {"EventSourceArn": Q + "q", "FunctionName": "f"}
        )


async def test_an_update_to_another_function_checks_its_role(db: Store, directory: FakeDirectory) -> None:
    directory.attach(ROLE, allowing("sqs:*", resource=Q + "*"))
    mappings = service(db, directory)
    made = await mappings.create({"EventSourceArn": Q + "q", "FunctionName": "f"})
    await mappings.settle(made.uuid)
    mappings.functions = Functions(f"arn:aws:iam::{ACCOUNT}:role/other")
    with pytest.raises(InvalidParameterValue, match="to call ReceiveMessage on SQS"):
        await mappings.update(made.uuid, {"FunctionName": "g"})
