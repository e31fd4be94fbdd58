"""The statements Lambda writes for AddPermission, from each form of principal and every condition."""

from __future__ import annotations

import json

import pytest

from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.policies import Permission, statement
from lambkin.identity.policy.document import parse_policy

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("*", "*"),
        ("111122223333", {"AWS": "arn:aws:iam::111122223333:root"}),
        ("arn:aws:iam::111122223333:role/caller", {"AWS": "arn:aws:iam::111122223333:role/caller"}),
        ("scheduler.amazonaws.com", {"Service": "scheduler.amazonaws.com"}),
    ],
)
def test_each_form_of_principal(given: str, written: object) -> None:
    assert statement(Permission("s", "lambda:InvokeFunction", given), ARN)["Principal"] == written


def test_every_condition_in_lambdas_order() -> None:
    written = statement(
        Permission(
            "s",
            "lambda:InvokeFunctionUrl",
            "*",
            source_arn="arn:aws:s3:::bucket",
            source_account="000000000000",
            event_source_token="token-1",
            principal_org_id="o-abcdefghij",
            function_url_auth_type="AWS_IAM",
            invoked_via_function_url=True,
        ),
        ARN,
    )
    assert list(written) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert written["Condition"] == {
        "StringEquals": {
            "AWS:SourceAccount": "000000000000",
            "lambda:EventSourceToken": "token-1",
            "aws:PrincipalOrgID": "o-abcdefghij",
            "lambda:FunctionUrlAuthType": "AWS_IAM",
        },
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
        "Bool": {"lambda:InvokedViaFunctionUrl": "true"},
    }


def test_a_principal_that_is_none_of_those_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="The provided principal was invalid"):
        statement(Permission("s", "lambda:InvokeFunction", "not a principal"), ARN)


def test_every_statement_lambda_writes_is_one_the_policy_engine_reads() -> None:
    written = statement(
        Permission(
            "all",
            "lambda:InvokeFunction",
            "events.amazonaws.com",
            source_arn="arn:aws:events:us-east-1:000000000000:rule/r",
            source_account="000000000000",
            event_source_token="t",
            principal_org_id="o-abcdefghij",
            function_url_auth_type="NONE",
            invoked_via_function_url=True,
        ),
        ARN,
    )
    document = {"Version": "2012-10-17", "Id": "default", "Statement": [written]}
    assert parse_policy(json.dumps(document), "resource").statements[0].sid == "all"
