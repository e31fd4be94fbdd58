"""Lambda delivers async results with the function's role: a dead-letter queue the role may not
sqs:SendMessage to is refused at CreateFunction and UpdateFunctionConfiguration, a destination it may not
reach (sqs:SendMessage on a queue, lambda:InvokeFunction on a function) at Put/UpdateFunctionEventInvokeConfig;
the role's own policies or the target's may allow it. Real control plane and authorizer, fake IAM directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.functions import event_invoke_config, policies
from lambkin.functions.changes import ConfigChange
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.delivery import delivery_action
from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.functions.names import FunctionRef
from lambkin.functions.policies import Permission
from lambkin.functions.repository import MIGRATIONS
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.directory import Role
from lambkin.store import Store
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.identity import FakeDirectory
from lambkin.testing.images import FakeImageResolver

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
OTHER = f"arn:aws:iam::{ACCOUNT}:role/other"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
DEAD_LETTER_REFUSED = "The provided execution role does not have permissions to call SendMessage on SQS"


def allowing(*actions: str, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


def revoke(directory: FakeDirectory, role: str) -> None:
    """Deletes every policy of the role, as DeleteRolePolicy does (an IAM write: a new generation)."""
    directory.policies.pop(role, None)
    directory.generation += 1


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    database = SqliteStore(tmp_path / "test.db")
    database.migrate(MIGRATIONS + policies.MIGRATIONS + event_invoke_config.MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def directory() -> FakeDirectory:
    found = FakeDirectory()
    for arn in (ROLE, OTHER):
        found.put_role(Role(arn, arn.rsplit("/", 1)[1], "AROA" + arn.rsplit("/", 1)[1].upper(), "{}"))
    return found


@pytest.fixture
def queue_policies() -> dict[str, str]:
    return {}


@pytest.fixture
def cp(db: Store, directory: FakeDirectory, queue_policies: dict[str, str]) -> ControlPlane:
    resolver = FakeImageResolver()
    resolver.tags["reg/app:v1"] = "sha256:" + "1" * 64
    return build_control_plane(
        db,
        "us-east-1",
        ACCOUNT,
        resolver,
        role_check=lambda role: True,
        architecture="x86_64",
        role_may=Authorizer(directory, ACCOUNT).role_may,
        queue_policy=queue_policies.get,
    )


@pytest.fixture
def configs(db: Store, cp: ControlPlane) -> EventInvokeConfigService:
    return EventInvokeConfigService(db, cp.arns, cp.functions, delivery=cp.delivery)


async def active(cp: ControlPlane, name: str, role: str = ROLE, **change: object) -> None:
    await cp.functions.create(name, role, "reg/app:v1", ConfigChange(**change))  # type: ignore[arg-type]
    await cp.worker.settle(name, "$LATEST")


def test_a_queue_needs_send_message_and_a_function_invoke_function() -> None:
    assert delivery_action(QUEUE) == "sqs:SendMessage"
    assert delivery_action(FUNCTION + "f:live") == "lambda:InvokeFunction"
    assert delivery_action(f"arn:aws:sns:us-east-1:{ACCOUNT}:topic") is None


async def test_create_function_refuses_a_dead_letter_queue_the_role_may_not_send_to(
    cp: ControlPlane, directory: FakeDirectory
) -> None:
    directory.attach(ROLE, allowing("sqs:SendMessage", resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:other"))
    with pytest.raises(InvalidParameterValue) as refused:
        await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(dead_letter_target_arn=QUEUE))
    assert refused.value.message == DEAD_LETTER_REFUSED
    with pytest.raises(Exception, match="Function not found"):
        await cp.functions.get(FunctionRef("fn"))  # nothing was created


async def test_create_function_accepts_a_dead_letter_queue_the_role_may_send_to(
    cp: ControlPlane, directory: FakeDirectory
) -> None:
    directory.attach(ROLE, allowing("sqs:SendMessage", resource=QUEUE))
    created = await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(dead_letter_target_arn=QUEUE))
    assert created.dead_letter_target_arn == QUEUE


async def test_the_queues_own_policy_may_let_the_role_send(
    cp: ControlPlane, queue_policies: dict[str, str]
) -> None:
    queue_policies[QUEUE] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": "sqs:SendMessage",
                    "Resource": QUEUE,
                }
            ],
        }
    )
    created = await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(dead_letter_target_arn=QUEUE))
    assert created.dead_letter_target_arn == QUEUE


async def test_update_configuration_checks_a_new_queue_and_a_new_role_against_the_queue(
    cp: ControlPlane, directory: FakeDirectory
) -> None:
    await active(cp, "fn")
    with pytest.raises(InvalidParameterValue, match=DEAD_LETTER_REFUSED):
        await cp.functions.update_configuration(
            FunctionRef("fn"), ConfigChange(dead_letter_target_arn=QUEUE), None
        )
    directory.attach(ROLE, allowing("sqs:SendMessage"))
    await cp.functions.update_configuration(
        FunctionRef("fn"), ConfigChange(dead_letter_target_arn=QUEUE), None
    )
    # The queue stays: a role that may not send there is refused as the function's new role.
    with pytest.raises(InvalidParameterValue, match=DEAD_LETTER_REFUSED):
        await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(role=OTHER), None)
    (version, _, _) = await cp.functions.get(FunctionRef("fn"))
    assert (version.role, version.dead_letter_target_arn) == (ROLE, QUEUE)
    # Removing the queue (an empty TargetArn) needs no permission.
    revoke(directory, ROLE)
    cleared = await cp.functions.update_configuration(
        FunctionRef("fn"), ConfigChange(role=OTHER, dead_letter_target_arn=""), None
    )
    assert cleared.dead_letter_target_arn is None


async def test_a_queue_destination_needs_send_message(
    cp: ControlPlane, configs: EventInvokeConfigService, directory: FakeDirectory
) -> None:
    await active(cp, "fn")
    for patch in (False, True):
        with pytest.raises(InvalidParameterValue) as refused:
            await configs.put("fn", None, None, None, {"OnFailure": QUEUE}, patch=patch)
        assert refused.value.message == f"The destination ARN {QUEUE} is invalid."
    directory.attach(ROLE, allowing("sqs:SendMessage"))
    put = await configs.put("fn", None, None, None, {"OnFailure": QUEUE, "OnSuccess": None})
    assert put.on_failure == QUEUE


async def test_a_function_destination_needs_invoke_function_by_the_roles_or_the_functions_policy(
    cp: ControlPlane, configs: EventInvokeConfigService, directory: FakeDirectory
) -> None:
    await active(cp, "fn")
    await active(cp, "sink")
    target = FUNCTION + "sink"
    with pytest.raises(InvalidParameterValue, match=f"The destination ARN {target} is invalid."):
        await configs.put("fn", None, None, None, {"OnSuccess": target})
    # AddPermission on the target function lets the role invoke it.
    await cp.policies.add(
        FunctionRef("sink"), Permission("from-fn", "lambda:InvokeFunction", ROLE), revision_id=None
    )
    put = await configs.put("fn", None, None, None, {"OnSuccess": target})
    assert put.on_success == target
    # Another function's role is not named there.
    await active(cp, "other", role=OTHER)
    with pytest.raises(InvalidParameterValue, match="is invalid"):
        await configs.put("other", None, None, None, {"OnSuccess": target})
    directory.attach(OTHER, allowing("lambda:InvokeFunction", resource=FUNCTION + "sink*"))
    assert (await configs.put("other", None, None, None, {"OnSuccess": target})).on_success == target


async def test_a_version_is_checked_with_the_role_it_was_published_with(
    cp: ControlPlane, configs: EventInvokeConfigService, directory: FakeDirectory
) -> None:
    directory.attach(OTHER, allowing("sqs:SendMessage"))
    await active(cp, "fn")
    await cp.functions.publish(FunctionRef("fn"), None, None, None)  # version 1 runs as ROLE
    await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(role=OTHER), None)
    assert (await configs.put("fn", None, None, None, {"OnFailure": QUEUE})).on_failure == QUEUE
    with pytest.raises(InvalidParameterValue, match="is invalid"):
        await configs.put("fn", "1", None, None, {"OnFailure": QUEUE})


async def test_without_role_may_roles_are_not_asked(db: Store) -> None:
    resolver = FakeImageResolver()
    resolver.tags["reg/app:v1"] = "sha256:" + "1" * 64
    cp = build_control_plane(
        db, "us-east-1", ACCOUNT, resolver, role_check=lambda role: True, architecture="x86_64"
    )
    assert cp.delivery is None
    created = await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(dead_letter_target_arn=QUEUE))
    assert created.dead_letter_target_arn == QUEUE
