"""SQS's action table: each operation's IAM action and resource, as AWS's Service Authorization Reference
("Actions, resources, and condition keys for Amazon SQS") gives them.

Queue operations act on the queue's ARN (from its QueueUrl, or its name for CreateQueue and GetQueueUrl),
whose Policy attribute decides beside the caller's policies; the batch operations are authorized as their
single forms (SendMessageBatch as sqs:SendMessage); ListQueues acts on "*". The message move tasks act on
their source queue (its SourceArn, or the one a TaskHandle names; a handle that names none acts on "*") and,
as AWS's API permissions reference lists them, need more on it: ListMessageMoveTasks sqs:GetQueueAttributes;
Start and Cancel sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes; a StartMessageMoveTask with
a DestinationArn needs sqs:SendMessage on that queue too.
"""

from __future__ import annotations

import functools
from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed
from lambkin.api.sqs_api import queue_name
from lambkin.protocol.service import RequestContext
from lambkin.queues.errors import QueueError
from lambkin.queues.move_tasks import decode_handle
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
TAKES = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)  # what a move does to its source


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

    def on_arn(action: str, arn: str) -> Target:
        name = registry.name_of_arn(arn)
        return on_queue(action, name) if name is not None else Target(action, arn)

    def moving(action: str, arn: str, also: tuple[str, ...], destination: str | None = None) -> Target:
        needed = [on_arn(more, arn) for more in also]
        if destination:
            needed.append(on_arn("sqs:SendMessage", destination))
        return on_arn(action, arn)._replace(also=tuple(needed))

    def start(arguments: dict[str, Any], context: RequestContext) -> Target:
        source, destination = arguments["SourceArn"], arguments.get("DestinationArn")
        return moving("sqs:StartMessageMoveTask", source, TAKES, destination)

    def listing(arguments: dict[str, Any], context: RequestContext) -> Target:
        return moving("sqs:ListMessageMoveTasks", arguments["SourceArn"], ("sqs:GetQueueAttributes",))

    def cancel(arguments: dict[str, Any], context: RequestContext) -> Target:
        try:
            _, source_arn = decode_handle(arguments["TaskHandle"])
        except QueueError:
            return Target("sqs:CancelMessageMoveTask", "*")
        return moving("sqs:CancelMessageMoveTask", source_arn, TAKES)

    table: dict[str, Rule] = {op: by_url(f"sqs:{action}") for op, action in BY_URL.items()}
    table.update({op: by_name(f"sqs:{op}") for op in BY_NAME})
    table["ListQueues"] = fixed("sqs:ListQueues")
    table["StartMessageMoveTask"] = start
    table["ListMessageMoveTasks"] = listing
    table["CancelMessageMoveTask"] = cancel
    return table
