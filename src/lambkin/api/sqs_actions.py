"""SQS's action table: each operation's IAM action and resource, as AWS's Service Authorization Reference
("Actions, resources, and condition keys for Amazon SQS") gives them.

Queue operations act on the queue's ARN (from its QueueUrl, or its name for CreateQueue and GetQueueUrl),
whose Policy attribute decides beside the caller's policies; the batch operations are authorized as their
single forms (SendMessageBatch as sqs:SendMessage); ListQueues acts on "*".
"""

from __future__ import annotations

import functools
from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed
from lambkin.api.sqs_api import queue_name
from lambkin.protocol.service import RequestContext
from lambkin.queues.registry import QueueRegistry

BY_URL = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "SetQueueAttributes": "SetQueueAttributes",
    "DeleteQueue": "DeleteQueue",
    "PurgeQueue": "PurgeQueue",
    "TagQueue": "TagQueue",
    "UntagQueue": "UntagQueue",
    "ListQueueTags": "ListQueueTags",
    "ListDeadLetterSourceQueues": "ListDeadLetterSourceQueues",
    "AddPermission": "AddPermission",
    "RemovePermission": "RemovePermission",
}
BY_NAME = ("CreateQueue", "GetQueueUrl")


def sqs_actions(registry: QueueRegistry) -> ActionTable:
    """The rules of every SQS operation lambkin serves."""
    account = registry.account_id

    def on_queue(action: str, name: str) -> Target:
        queue = registry.queues.get(name)
        return Target(action, registry.arn(name), None if queue is None else queue.config.policy)

    @functools.lru_cache(maxsize=4096)
    def name_of(queue_url: str) -> str:  # pure, so remembered: the hot path splits no URL twice
        return queue_name(queue_url, account)

    def by_url(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return on_queue(action, name_of(arguments["QueueUrl"]))

        return rule

    def by_name(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return on_queue(action, arguments["QueueName"])

        return rule

    table: dict[str, Rule] = {op: by_url(f"sqs:{action}") for op, action in BY_URL.items()}
    table.update({op: by_name(f"sqs:{op}") for op in BY_NAME})
    table["ListQueues"] = fixed("sqs:ListQueues")
    return table
