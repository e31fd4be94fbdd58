"""The IAM service against a real SQLite database: roles, policies, users and keys, and the Directory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lambkin.identity import iam_errors as errors
from lambkin.identity import iam_store
from lambkin.identity.iam import DocumentKind, Iam
from lambkin.identity.iam_attachments import Attachments
from lambkin.identity.iam_policies import Policies
from lambkin.identity.iam_roles import Roles
from lambkin.identity.iam_users import Users
from lambkin.identity.principals import Principal, root
from lambkin.store import Store
from lambkin.store.sqlite import SqliteStore

ACCOUNT = "000000000000"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
LOGS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
)
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def json_only(text: str, kind: DocumentKind) -> None:
    """A stand-in for the policy engine's parser: only JSON objects pass."""
    try:
        parsed = json.loads(text)
    except ValueError:
        raise errors.MalformedPolicyDocument("Syntax errors in policy.") from None
    if not isinstance(parsed, dict):
        raise errors.MalformedPolicyDocument("Syntax errors in policy.")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    database = SqliteStore(tmp_path / "iam.db")
    database.migrate(iam_store.MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def iam(db: Store) -> Iam:
    service = Iam(db, ACCOUNT, json_only, clock=lambda: 1_700_000_000.0)
    service.load()
    return service


async def test_a_created_role_has_iam_ids_and_its_path_in_the_arn(iam: Iam) -> None:
    role = await Roles(iam).create("app", TRUST, path="/service/")
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role.role_id)
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/service/app"
    assert Roles(iam).get("APP") == role  # names compare without case


async def test_role_names_are_unique_regardless_of_case(iam: Iam) -> None:
    await Roles(iam).create("app", TRUST)
    with pytest.raises(errors.EntityAlreadyExists, match=re.escape("Role with name App already exists.")):
        await Roles(iam).create("App", TRUST)


async def test_a_missing_role_is_no_such_entity(iam: Iam) -> None:
    with pytest.raises(errors.NoSuchEntity, match=re.escape("The role with name ghost cannot be found.")):
        Roles(iam).get("ghost")


async def test_a_malformed_trust_policy_is_refused(iam: Iam) -> None:
    with pytest.raises(errors.MalformedPolicyDocument):
        await Roles(iam).create("app", "{not json")
    assert not iam.roles


async def test_a_role_with_policies_cannot_be_deleted(iam: Iam) -> None:
    roles, attachments = Roles(iam), Attachments(iam)
    await roles.create("app", TRUST)
    await attachments.attach("role", "app", BASIC)
    with pytest.raises(errors.DeleteConflict, match="must detach all policies first"):
        await roles.delete("app")
    await attachments.detach("role", "app", BASIC)
    await attachments.put_inline("role", "app", "logs", LOGS)
    with pytest.raises(errors.DeleteConflict, match="must delete policies first"):
        await roles.delete("app")
    await attachments.delete_inline("role", "app", "logs")
    await roles.delete("app")
    assert not iam.roles


async def test_attaching_an_unknown_policy_names_it(iam: Iam) -> None:
    await Roles(iam).create("app", TRUST)
    wrong_path = "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole"
    with pytest.raises(
        errors.NoSuchEntity, match=re.escape(f"Policy {wrong_path} does not exist or is not attachable.")
    ):
        await Attachments(iam).attach("role", "app", wrong_path)
    with pytest.raises(errors.InvalidInput, match=re.escape("ARN nonsense is not valid.")):
        await Attachments(iam).attach("role", "app", "nonsense")


async def test_state_survives_a_restart(db: Store, iam: Iam) -> None:
    await Roles(iam).create("app", TRUST, tags=[("team", "a")])
    await Attachments(iam).attach("role", "app", BASIC)
    policy = await Policies(iam).create("mine", LOGS)
    await Users(iam).create("ops")
    key = await Users(iam).create_key("ops")
    again = Iam(db, ACCOUNT, json_only)
    again.load()
    assert again.roles == iam.roles
    assert again.policy(policy.arn) == policy
    assert again.keys[key.access_key_id] == key


async def test_generation_changes_on_every_write(iam: Iam) -> None:
    before = iam.generation
    await Roles(iam).create("app", TRUST)
    middle = iam.generation
    await Roles(iam).tag("app", [("k", "v")])
    assert before < middle < iam.generation


async def test_policy_versions_are_limited_to_five_and_the_default_stays(iam: Iam) -> None:
    policies = Policies(iam)
    policy = await policies.create("mine", LOGS)
    for _ in range(4):
        await policies.create_version(policy.arn, LOGS, set_as_default=False)
    with pytest.raises(errors.LimitExceeded, match=re.escape("A managed policy can have up to 5 versions.")):
        await policies.create_version(policy.arn, LOGS, set_as_default=True)
    with pytest.raises(
        errors.DeleteConflict, match=re.escape("Cannot delete the default version of a policy.")
    ):
        await policies.delete_version(policy.arn, "v1")
    await policies.delete_version(policy.arn, "v3")
    created = await policies.create_version(policy.arn, LOGS, set_as_default=True)
    assert created.version_id == "v6"  # never reused
    _, versions, _ = policies.list_versions(policy.arn, None, None)
    assert [v.version_id for v in versions] == ["v6", "v5", "v4", "v2", "v1"]
    assert policies.get(policy.arn).default_version == "v6"


async def test_a_policy_is_deleted_only_when_detached_and_alone(iam: Iam) -> None:
    policies = Policies(iam)
    policy = await policies.create("mine", LOGS)
    await Roles(iam).create("app", TRUST)
    await Attachments(iam).attach("role", "app", policy.arn)
    with pytest.raises(
        errors.DeleteConflict, match=re.escape("Cannot delete a policy attached to entities.")
    ):
        await policies.delete(policy.arn)
    await Attachments(iam).detach("role", "app", policy.arn)
    await policies.create_version(policy.arn, LOGS, set_as_default=False)
    with pytest.raises(errors.DeleteConflict, match=re.escape("This policy has more than one version.")):
        await policies.delete(policy.arn)
    await policies.delete_version(policy.arn, "v2")
    await policies.delete(policy.arn)
    with pytest.raises(errors.NoSuchEntity, match=re.escape(f"Policy {policy.arn} was not found.")):
        policies.get(policy.arn)


async def test_aws_managed_policies_are_there_and_read_only(iam: Iam) -> None:
    policies = Policies(iam)
    basic = policies.get(BASIC)
    assert basic.path == "/service-role/"
    assert json.loads(basic.document)["Statement"][0]["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    with pytest.raises(errors.UnmodifiableEntity):
        await policies.delete(BASIC)
    with pytest.raises(errors.UnmodifiableEntity):
        await policies.create_version(BASIC, LOGS, set_as_default=True)
    aws, _ = policies.listing("AWS", False, None, None, None)
    assert {p.name for p in aws} >= {
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaRole",
        "AWSLambda_FullAccess",
        "AmazonSQSFullAccess",
        "AdministratorAccess",
        "ReadOnlyAccess",
    }
    local, _ = policies.listing("Local", False, None, None, None)
    assert local == []


async def test_users_keep_two_keys_at_most_and_are_deleted_without_them(iam: Iam) -> None:
    users = Users(iam)
    await users.create("ops")
    first = await users.create_key("ops")
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", first.access_key_id)
    assert len(first.secret) == 40
    await users.create_key("ops")
    with pytest.raises(errors.LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        await users.create_key("ops")
    with pytest.raises(errors.DeleteConflict, match="must delete access keys first"):
        await users.delete("ops")
    for key in users.keys("ops", None, None)[0]:
        await users.delete_key("ops", key.access_key_id)
    await users.delete("ops")
    with pytest.raises(errors.NoSuchEntity, match=re.escape("The user with name ops cannot be found.")):
        users.get("ops")


async def test_the_directory_gives_a_users_key_and_its_policies(iam: Iam) -> None:
    users, attachments = Users(iam), Attachments(iam)
    user = await users.create("ops", path="/team/")
    key = await users.create_key("ops")
    await attachments.put_inline("user", "ops", "logs", LOGS)
    await attachments.attach("user", "ops", BASIC)
    found = iam.access_key(key.access_key_id)
    assert found is not None and found.active and found.secret == key.secret
    assert found.user == Principal(
        kind="user",
        arn=f"arn:aws:iam::{ACCOUNT}:user/team/ops",
        account=ACCOUNT,
        user_id=user.user_id,
        name="ops",
    )
    documents = iam.identity_policies(found.user)
    assert documents[0] == LOGS
    assert documents[1] == iam.policy(BASIC).document  # type: ignore[union-attr]
    await users.update_key("ops", key.access_key_id, active=False)
    inactive = iam.access_key(key.access_key_id)
    assert inactive is not None and not inactive.active
    assert iam.identity_policies(root(ACCOUNT)) == ()


async def test_the_directory_gives_roles_by_arn_and_an_assumed_roles_policies(iam: Iam) -> None:
    role = await Roles(iam).create("app", TRUST, path="/svc/")
    await Attachments(iam).put_inline("role", "app", "logs", LOGS)
    found = iam.role(role.arn)
    assert found is not None and found.role_id == role.role_id and found.trust_policy == TRUST
    assert iam.role(f"arn:aws:iam::{ACCOUNT}:role/app") is None  # the path is part of the ARN
    session = Principal(
        kind="assumed-role",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s",
        account=ACCOUNT,
        user_id=f"{role.role_id}:s",
        name="s",
        role_arn=role.arn,
    )
    assert iam.identity_policies(session) == [LOGS]


async def test_a_session_of_a_deleted_role_gets_nothing_from_a_new_role_of_the_same_name(iam: Iam) -> None:
    old = await Roles(iam).create("app", TRUST)
    session = Principal(
        kind="assumed-role",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s",
        account=ACCOUNT,
        user_id=f"{old.role_id}:s",
        name="s",
        role_arn=old.arn,
    )
    await Roles(iam).delete("app")
    new = await Roles(iam).create("app", TRUST)
    await Attachments(iam).put_inline("role", "app", "logs", LOGS)
    assert new.arn == old.arn and new.role_id != old.role_id
    assert not iam.identity_policies(session)
    assert iam.identity_policies(replace(session, user_id=f"{new.role_id}:s")) == [LOGS]


async def test_listings_page_with_markers(iam: Iam) -> None:
    roles = Roles(iam)
    for name in ["c", "a", "e", "b", "d"]:
        await roles.create(name, TRUST)
    seen: list[str] = []
    marker: str | None = None
    while True:
        found, marker = roles.listing(None, marker, 2)
        seen += [r.name for r in found]
        if marker is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]


async def test_a_keyless_key_id_is_no_such_entity(iam: Iam) -> None:
    await Users(iam).create("ops")
    with pytest.raises(
        errors.NoSuchEntity, match=re.escape("The Access Key with id AKIAXXXX cannot be found.")
    ):
        await Users(iam).delete_key("ops", "AKIAXXXX")
