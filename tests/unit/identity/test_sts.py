"""STS's decisions: who may assume a role, for how long, and what the session is called."""

from __future__ import annotations

import pytest

from lambkin.identity.principals import Principal, root
from lambkin.identity.sessions import SessionSeal
from lambkin.identity.sts import Sts, StsError, caller_identity
from lambkin.testing.clock import START, ManualClock
from lambkin.testing.identity import FakeDirectory
from tests.unit.identity.directories import add_role, trust_policy

USER = Principal("user", "arn:aws:iam::000000000000:user/alice", "000000000000", "AIDAALICE", "alice")
ACCOUNT_ROOT = "arn:aws:iam::000000000000:root"
ASSUME_ANY = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}'
)


def sts(directory: FakeDirectory, scale: float = 1.0) -> Sts:
    return Sts(directory, SessionSeal("secret"), ManualClock(), duration_scale=scale)


def test_a_trusted_caller_gets_a_session_of_the_role_for_the_duration_it_asks() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy(USER.arn), max_session_duration_s=7200)

    issued = sts(directory).assume_role(USER, role.arn, "build-42", 7200)

    assert issued.session.expires == START + 7200
    assert issued.session.principal().arn == "arn:aws:sts::000000000000:assumed-role/app/build-42"
    assert issued.session.principal().user_id == f"{role.role_id}:build-42"


def test_the_default_duration_is_an_hour_and_the_scale_setting_shortens_it() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy(USER.arn))

    assert sts(directory).assume_role(USER, role.arn, "s1").session.expires == START + 3600
    assert sts(directory, scale=0).assume_role(USER, role.arn, "s1").session.expires == START


def test_an_untrusted_caller_and_a_missing_role_are_both_access_denied() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy("arn:aws:iam::000000000000:user/bob"))
    missing = "arn:aws:iam::000000000000:role/gone"

    with pytest.raises(StsError) as untrusted:
        sts(directory).assume_role(USER, role.arn, "s1")
    with pytest.raises(StsError) as absent:
        sts(directory).assume_role(USER, missing, "s1")

    assert (untrusted.value.code, untrusted.value.status) == ("AccessDenied", 403)
    assert untrusted.value.message == (
        "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: sts:AssumeRole "
        "on resource: arn:aws:iam::000000000000:role/app"
    )
    assert absent.value.message.endswith(f"on resource: {missing}")


def test_a_trust_policy_naming_the_account_needs_the_callers_own_policy_too() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy(ACCOUNT_ROOT))

    with pytest.raises(StsError):
        sts(directory).assume_role(USER, role.arn, "s1")
    directory.attach(USER.arn, ASSUME_ANY)

    assert sts(directory).assume_role(USER, role.arn, "s1").session.name == "s1"


def test_a_caller_whose_policy_denies_assume_role_is_refused_whatever_the_trust_says() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy(USER.arn))
    directory.attach(USER.arn, ASSUME_ANY.replace("Allow", "Deny"))

    with pytest.raises(StsError) as refused:
        sts(directory).assume_role(USER, role.arn, "s1")

    assert refused.value.code == "AccessDenied"


def test_the_root_may_not_assume_roles() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", trust_policy(ACCOUNT_ROOT))
    account_root = root("000000000000")

    with pytest.raises(StsError) as refused:
        sts(directory).assume_role(account_root, role.arn, "s1")

    assert refused.value.message == "Roles may not be assumed by root accounts."


def test_a_duration_beyond_the_roles_maximum_or_the_chaining_limit_is_a_validation_error() -> None:
    directory = FakeDirectory()
    role = add_role(directory, "app", max_session_duration_s=7200)
    chained = SessionSeal("secret").issue(role.arn, role.role_id, "first", START + 60).session.principal()
    add_role(directory, "app", trust_policy(USER.arn, role.arn), max_session_duration_s=7200)
    service = sts(directory)

    with pytest.raises(StsError) as too_long:
        service.assume_role(USER, role.arn, "s1", 7201)
    with pytest.raises(StsError) as chaining:
        service.assume_role(chained, role.arn, "s2", 7200)

    assert (too_long.value.code, too_long.value.status) == ("ValidationError", 400)
    assert too_long.value.message == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    assert chaining.value.message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    assert service.assume_role(chained, role.arn, "s2", 3600).session.name == "s2"


def test_caller_identity_is_the_principals_ids() -> None:
    assert caller_identity(root("123456789012")) == {
        "UserId": "123456789012",
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:root",
    }
