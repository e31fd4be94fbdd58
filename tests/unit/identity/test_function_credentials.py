"""A function's environments sign as sessions of its execution role, named after the function."""

from __future__ import annotations

import pytest

from lambkin.credentials import Credentials
from lambkin.identity.function_credentials import FunctionCredentials, RoleNotAssumable
from lambkin.identity.keys import Keyring
from lambkin.identity.sts import Sts
from lambkin.testing.clock import START, ManualClock
from lambkin.testing.identity import FakeDirectory
from lambkin.testing.versions import FakeVersion
from tests.unit.identity.directories import add_role, trust_policy

SERVER = Credentials("LKIATESTKEY000000000", "server-secret")


def source(directory: FakeDirectory) -> tuple[FunctionCredentials, Keyring]:
    keys = Keyring(SERVER, "000000000000", directory)
    sts = Sts(directory, keys.sessions, ManualClock(), duration_scale=0)  # AssumeRole's scale: not ours
    return FunctionCredentials(directory, sts, environment_max_age_s=6 * 3600), keys


def test_an_environment_signs_as_its_functions_role_session_longer_than_it_may_live() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "orders-role", trust_policy("lambda.amazonaws.com"))
    credentials, keys = source(directory)

    env = credentials(FakeVersion(name="orders", role=role.arn))
    key = keys(env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"])

    assert key is not None and key.secret == env["AWS_SECRET_ACCESS_KEY"]
    assert key.caller.arn == "arn:aws:sts::000000000000:assumed-role/orders-role/orders"
    assert key.caller.user_id == f"{role.role_id}:orders"
    assert key.expires is not None and key.expires.timestamp() == START + 6 * 3600 + 900 + 300


def test_a_missing_role_or_one_that_does_not_trust_lambda_cannot_be_assumed() -> None:
    directory = FakeDirectory()
    other = add_role(directory, "ci-role", trust_policy("arn:aws:iam::000000000000:user/ci"))
    credentials, _ = source(directory)

    for role in ("arn:aws:iam::000000000000:role/deleted", other.arn):
        with pytest.raises(RoleNotAssumable) as refused:
            credentials(FakeVersion(role=role))
        assert refused.value.code == "InvalidParameterValueException"
        assert refused.value.message == "The role defined for the function cannot be assumed by Lambda."
