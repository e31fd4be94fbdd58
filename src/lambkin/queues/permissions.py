"""SQS AddPermission and RemovePermission: statements added to and removed from a queue's Policy attribute."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from lambkin import json_depth
from lambkin.queues.errors import InvalidParameterValue, MissingParameter, OverLimit

MAX_ACTIONS = 7
_ACCOUNT = re.compile(r"[0-9]{12}")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
# The actions a queue owner may share (the batch forms come with SendMessage, DeleteMessage and
# ChangeMessageVisibility); the rest only the owner may call.
SHAREABLE = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
        "CancelMessageMoveTask",
        "ListMessageMoveTasks",
        "StartMessageMoveTask",
    }
)


def _label_problem(label: str, reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Value {label} for parameter Label is invalid. Reason: {reason}")


def _document(policy: str | None, queue_arn: str) -> dict[str, Any]:
    if policy:
        try:
            document = json_depth.loads(policy)
        except ValueError:
            document = None
        if isinstance(document, dict):
            statements = document.get("Statement", [])
            document["Statement"] = statements if isinstance(statements, list) else [statements]
            return document
    return {"Version": "2012-10-17", "Id": f"{queue_arn}/SQSDefaultPolicy", "Statement": []}


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def _one_or_many(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def add_permission(
    policy: str | None, queue_arn: str, label: str, accounts: Sequence[str], actions: Sequence[str]
) -> str:
    """The queue's Policy with a statement `label` granting `actions` to `accounts` added."""
    if not _LABEL.fullmatch(label):
        raise _label_problem(
            label, "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )
    if not accounts:
        raise MissingParameter("The request must contain the parameter AWSAccountIds.")
    if not actions:
        raise MissingParameter("The request must contain the parameter Actions.")
    if len(actions) > MAX_ACTIONS:
        raise OverLimit(f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}.")
    for action in actions:
        if action not in SHAREABLE:
            raise InvalidParameterValue(
                f"Value SQS:{action} for parameter ActionName is invalid. "
                "Reason: Only the queue owner is allowed to invoke this action."
            )
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise InvalidParameterValue(
                f"Value {account} for parameter PrincipalId is invalid. Reason: Unable to verify."
            )
    document = _document(policy, queue_arn)
    if any(isinstance(s, dict) and s.get("Sid") == label for s in document["Statement"]):
        raise _label_problem(label, "Already exists.")
    document["Statement"].append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": _one_or_many([f"arn:aws:iam::{a}:root" for a in accounts])},
            "Action": _one_or_many([f"SQS:{action}" for action in actions]),
            "Resource": queue_arn,
        }
    )
    return _render(document)


def remove_permission(policy: str | None, queue_arn: str, label: str) -> str:
    """The queue's Policy without statement `label` ("" once no statement is left)."""
    document = _document(policy, queue_arn)
    kept = [s for s in document["Statement"] if not (isinstance(s, dict) and s.get("Sid") == label)]
    if len(kept) == len(document["Statement"]):
        raise _label_problem(label, "can't find label on existing policy.")
    if not kept:
        return ""
    document["Statement"] = kept
    return _render(document)
