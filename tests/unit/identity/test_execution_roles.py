"""Lambda's question about a function's role, Scheduler's about a schedule's (with its source conditions), and IAM's check of the documents it is given, both answered
with the real policy engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.identity import iam_errors as errors
from lambkin.identity import iam_store
from lambkin.identity.execution_roles import lambda_can_assume, scheduler_can_assume
from lambkin.identity.iam import Iam
from lambkin.identity.iam_documents import check_document
from lambkin.identity.iam_roles import Roles
from lambkin.store.sqlite import SqliteStore

ACCOUNT = "000000000000"


def trust(service: str, effect: str = "Allow") -> str:
    statement = {"Effect": effect, "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[Iam]:
    db = SqliteStore(tmp_path / "iam.db")
    db.migrate(iam_store.MIGRATIONS)
    service = Iam(db, ACCOUNT, check_document)
    service.load()
    yield service
    db.close()


async def test_lambda_may_assume_a_role_that_trusts_it(iam: Iam) -> None:
    role = await Roles(iam).create("fn", trust("lambda.amazonaws.com"))
    assert lambda_can_assume(iam)(role.arn)


async def test_lambda_may_not_assume_a_role_that_trusts_another_service(iam: Iam) -> None:
    role = await Roles(iam).create("vm", trust("ec2.amazonaws.com"))
    assert not lambda_can_assume(iam)(role.arn)


async def test_lambda_may_not_assume_a_missing_role_or_one_whose_trust_changed(iam: Iam) -> None:
    can_assume = lambda_can_assume(iam)
    assert not can_assume(f"arn:aws:iam::{ACCOUNT}:role/nobody")
    role = await Roles(iam).create("fn", trust("lambda.amazonaws.com"))
    await Roles(iam).update_trust_policy("fn", trust("lambda.amazonaws.com", effect="Deny"))
    assert not can_assume(role.arn)


def test_a_malformed_document_is_iams_malformed_policy_document_with_its_position() -> None:
    with pytest.raises(errors.MalformedPolicyDocument) as refused:
        check_document('{"Version": "2012-10-17", "Statement": [', "identity")
    assert "line" in refused.value.message
    with pytest.raises(errors.MalformedPolicyDocument):
        check_document(
            trust("lambda.amazonaws.com").replace('"Action"', '"Resource": "*", "Action"'), "trust"
        )


def test_a_trust_policy_is_held_to_iams_size_quota() -> None:
    services = [f"s{i}.amazonaws.com" for i in range(120)]
    big = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": services}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    with pytest.raises(errors.LimitExceeded, match="Cannot exceed quota for ACLSizePerRole: 2048"):
        check_document(big, "trust")


async def test_scheduler_asks_with_the_schedule_as_its_source(iam: Iam) -> None:
    schedule = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/etl"
    document = json.loads(trust("scheduler.amazonaws.com"))
    document["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/*"},
    }
    role = await Roles(iam).create("scheduled", json.dumps(document))
    can_assume = scheduler_can_assume(iam)
    assert can_assume(role.arn, schedule)
    assert not can_assume(role.arn, f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/other/etl")
    assert not can_assume((await Roles(iam).create("fn", trust("lambda.amazonaws.com"))).arn, schedule)
    assert not can_assume(f"arn:aws:iam::{ACCOUNT}:role/nobody", schedule)
