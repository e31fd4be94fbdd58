"""AWS-managed policies present in every lambkin account, with AWS's own statements (from AWS's managed
policy reference, arn:aws:iam::aws:policy/...), attachable by ARN and never changed or deleted.

ReadOnlyAccess: AWS's document grants read actions of several hundred services; lambkin keeps only its
statements for the services lambkin serves or will serve (lambda, sqs, logs, iam, sts, ecr, events,
scheduler, apigateway, cloudwatch), as one statement, so its version ID is lambkin's own ("v1"), not AWS's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lambkin.identity.iam_model import AWS_ACCOUNT, ManagedPolicy, PolicyVersion, arn, stable_id

_VERSION = "2012-10-17"


def _allow(actions: list[str], resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


_LOGS_WRITE = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

_LAMBDA_FULL_ACCESS = [
    _allow(
        [
            "cloudformation:DescribeStacks",
            "cloudformation:ListStackResources",
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricData",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "kms:DescribeKey",
            "kms:ListAliases",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListRolePolicies",
            "iam:ListRoles",
            "lambda:*",
            "logs:DescribeLogGroups",
            "states:DescribeStateMachine",
            "states:ListStateMachines",
            "tag:GetResources",
            "xray:GetTraceSummaries",
            "xray:BatchGetTraces",
        ]
    ),
    _allow(
        ["iam:PassRole"],
        Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    ),
    _allow(
        [
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
            "logs:StartLiveTail",
            "logs:StopLiveTail",
        ],
        "arn:aws:logs:*:*:log-group:/aws/lambda/*",
    ),
    _allow(
        ["iam:CreateServiceLinkedRole"],
        "arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
        Condition={"StringEquals": {"iam:AWSServiceName": "lambda.amazonaws.com"}},
    ),
]

_READ_ONLY = [
    _allow(
        [
            "apigateway:GET",
            "cloudwatch:Describe*",
            "cloudwatch:Get*",
            "cloudwatch:List*",
            "ecr:BatchCheck*",
            "ecr:BatchGet*",
            "ecr:Describe*",
            "ecr:Get*",
            "ecr:List*",
            "events:Describe*",
            "events:List*",
            "events:Test*",
            "iam:Generate*",
            "iam:Get*",
            "iam:List*",
            "iam:Simulate*",
            "lambda:Get*",
            "lambda:List*",
            "logs:Describe*",
            "logs:FilterLogEvents",
            "logs:Get*",
            "logs:ListTagsForResource",
            "logs:ListTagsLogGroup",
            "logs:StartLiveTail",
            "logs:StartQuery",
            "logs:StopLiveTail",
            "logs:StopQuery",
            "logs:TestMetricFilter",
            "scheduler:Get*",
            "scheduler:List*",
            "sqs:Get*",
            "sqs:List*",
            "sts:GetCallerIdentity",
        ]
    )
]

# name, path, version ID, creation and last update times, statements
_POLICIES: list[tuple[str, str, str, str, str, list[dict[str, Any]]]] = [
    ("AdministratorAccess", "/", "v1", "2015-02-06T18:39:46", "2015-02-06T18:39:46", [_allow(["*"])]),
    ("ReadOnlyAccess", "/", "v1", "2015-02-06T18:39:48", "2015-02-06T18:39:48", _READ_ONLY),
    ("AmazonSQSFullAccess", "/", "v1", "2015-02-06T18:41:07", "2015-02-06T18:41:07", [_allow(["sqs:*"])]),
    ("AWSLambda_FullAccess", "/", "v3", "2020-11-17T21:14:00", "2025-12-01T16:04:11", _LAMBDA_FULL_ACCESS),
    (
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        "v1",
        "2015-04-09T15:03:43",
        "2015-04-09T15:03:43",
        [_allow(_LOGS_WRITE)],
    ),
    (
        "AWSLambdaRole",
        "/service-role/",
        "v1",
        "2015-02-06T18:41:28",
        "2015-02-06T18:41:28",
        [_allow(["lambda:InvokeFunction"], ["*"])],
    ),
    (
        "AWSLambdaSQSQueueExecutionRole",
        "/service-role/",
        "v1",
        "2016-11-21T16:56:09",
        "2016-11-21T16:56:09",
        [_allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS_WRITE])],
    ),
]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def aws_managed_policies() -> dict[str, ManagedPolicy]:
    """The AWS-managed policies by ARN in lower case (how the IAM service keys policies)."""
    found: dict[str, ManagedPolicy] = {}
    for name, path, version, created, updated, statements in _POLICIES:
        document = json.dumps({"Version": _VERSION, "Statement": statements}, indent=2)
        policy_arn = arn(AWS_ACCOUNT, "policy", path, name)
        found[policy_arn.lower()] = ManagedPolicy(
            name=name,
            path=path,
            policy_id=stable_id("ANPA", policy_arn),
            arn=policy_arn,
            created=_epoch(created),
            updated=_epoch(updated),
            default_version=version,
            versions=(PolicyVersion(version, document, _epoch(updated)),),
            next_version=int(version[1:]) + 1,
        )
    return found
