"""The SQS API: one handler per operation, translating wire input to QueueService calls and back.

The queue engine's errors (`queues/errors.py`) rise to the gateway, which renders them (`protocol/errors.py`).
An operation on a queue is served by the node that owns the queue (CreateQueue by the node that owns or
should own its name): elsewhere the request is relayed there (`Relay`), once. ListQueues and GetQueueUrl
read the database on any node.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from lambkin.protocol.service import Handler, Relay, RequestContext
from lambkin.queues.batch import check_batch_size, check_entry_ids
from lambkin.queues.errors import InvalidParameterValue, QueueDoesNotExist, QueueElsewhere
from lambkin.queues.messages import AttributeValue, message_size
from lambkin.queues.move_tasks import decode_handle
from lambkin.queues.receiving import ReceivedMessage
from lambkin.queues.sending import SendRequest, SendResult
from lambkin.queues.service import EntryFailure, QueueService

Input = dict[str, Any]


def queue_name(queue_url: str, account: str, region: str | None = None) -> str:
    """The name of the queue a QueueUrl names (a bare name is accepted too) in this account; with `region`, a
    URL naming another region (`/<region>/<account>/<name>`, docs/design/regions.md) names no queue here."""
    parts = [p for p in urlsplit(queue_url).path.split("/") if p] if "/" in queue_url else [queue_url]
    if not parts or (len(parts) > 1 and parts[-2] != account):
        raise QueueDoesNotExist()
    if region is not None and len(parts) > 2 and _REGION.fullmatch(parts[-3]) and parts[-3] != region:
        raise QueueDoesNotExist()
    return parts[-1]


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def handlers(
    service: QueueService, default_endpoint: str, url_region: str | None = None
) -> dict[str, Handler]:
    """The handler map for the gateway's "sqs" entry; `url_region` (a region that is not the home region)
    goes in the path of the queue URLs it hands out."""
    registry = service.registry
    account = registry.account_id
    region = registry.region
    path = f"/{account}/" if url_region is None else f"/{url_region}/{account}/"

    def url(name: str, context: RequestContext) -> str:
        host = context.headers.get("host")
        base = f"http://{host}" if host else default_endpoint
        return f"{base}{path}{name}"

    async def name_of(a: Input, c: RequestContext) -> str:
        """The name of the request's queue, once this node is the one that serves it."""
        name = queue_name(a["QueueUrl"], account, region)
        await service.here(name, relayed=c.relayed_by is not None)
        return name

    async def create_queue(a: Input, c: RequestContext) -> dict[str, Any]:
        queue = await service.create_queue(
            a["QueueName"], a.get("Attributes") or {}, a.get("tags") or {}, relayed=c.relayed_by is not None
        )
        return {"QueueUrl": url(queue.name, c)}

    async def get_queue_url(a: Input, c: RequestContext) -> dict[str, Any]:
        owner = a.get("QueueOwnerAWSAccountId")
        if owner not in (None, account) or not await service.exists(a["QueueName"]):
            raise QueueDoesNotExist()
        return {"QueueUrl": url(a["QueueName"], c)}

    async def delete_queue(a: Input, c: RequestContext) -> dict[str, Any]:
        name = queue_name(a["QueueUrl"], account, region)
        await service.delete_queue(name, relayed=c.relayed_by is not None)
        return {}

    async def list_queues(a: Input, c: RequestContext) -> dict[str, Any]:
        every = await service.queue_names()
        names, token = registry.names(
            every, a.get("QueueNamePrefix"), a.get("MaxResults"), a.get("NextToken")
        )
        out: dict[str, Any] = {"QueueUrls": [url(n, c) for n in names]} if names else {}
        if token:
            out["NextToken"] = token
        return out

    async def get_queue_attributes(a: Input, c: RequestContext) -> dict[str, Any]:
        found = registry.attributes(await name_of(a, c), a.get("AttributeNames") or [])
        return {"Attributes": found} if found else {}

    async def set_queue_attributes(a: Input, c: RequestContext) -> dict[str, Any]:
        await registry.set_attributes(await name_of(a, c), a.get("Attributes") or {})
        return {}

    async def send_message(a: Input, c: RequestContext) -> dict[str, Any]:
        request = _send_request(a, c.headers.get("x-amzn-trace-id"))
        result = await service.send(await name_of(a, c), request, c.access_key_id)
        return _sent(result)

    async def send_message_batch(a: Input, c: RequestContext) -> dict[str, Any]:
        entries = a.get("Entries") or []
        check_entry_ids([e["Id"] for e in entries], "SendMessageBatchRequestEntry")
        trace = c.headers.get("x-amzn-trace-id")
        requests = [_send_request(e, trace) for e in entries]
        check_batch_size(sum(message_size(r.body or "", r.attributes) for r in requests))
        results = await service.send_batch(await name_of(a, c), requests, c.access_key_id)
        return _batch(entries, results, lambda r: _sent(r) if isinstance(r, SendResult) else {})

    async def receive_message(a: Input, c: RequestContext) -> dict[str, Any]:
        count = a.get("MaxNumberOfMessages", 1)
        if not 1 <= count <= 10:
            raise InvalidParameterValue(
                f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
                "if provided."
            )
        names = tuple(a.get("MessageSystemAttributeNames") or ()) + tuple(a.get("AttributeNames") or ())
        messages = await service.receive(
            await name_of(a, c),
            max_messages=count,
            wait_seconds=a.get("WaitTimeSeconds"),
            visibility_timeout=a.get("VisibilityTimeout"),
            attribute_names=names,
            message_attribute_names=tuple(a.get("MessageAttributeNames") or ()),
            attempt_id=a.get("ReceiveRequestAttemptId"),
        )
        return {"Messages": [_message(m) for m in messages]} if messages else {}

    async def delete_message(a: Input, c: RequestContext) -> dict[str, Any]:
        await service.delete(await name_of(a, c), a["ReceiptHandle"])
        return {}

    async def delete_message_batch(a: Input, c: RequestContext) -> dict[str, Any]:
        entries = a.get("Entries") or []
        check_entry_ids([e["Id"] for e in entries], "DeleteMessageBatchRequestEntry")
        results = await service.delete_batch(await name_of(a, c), [e["ReceiptHandle"] for e in entries])
        return _batch(entries, results, lambda r: {})

    async def change_message_visibility(a: Input, c: RequestContext) -> dict[str, Any]:
        await service.change_visibility(await name_of(a, c), a["ReceiptHandle"], a["VisibilityTimeout"])
        return {}

    async def change_message_visibility_batch(a: Input, c: RequestContext) -> dict[str, Any]:
        entries = a.get("Entries") or []
        check_entry_ids([e["Id"] for e in entries], "ChangeMessageVisibilityBatchRequestEntry")
        pairs = [(e["ReceiptHandle"], e.get("VisibilityTimeout", 0)) for e in entries]
        results = await service.change_visibility_batch(await name_of(a, c), pairs)
        return _batch(entries, results, lambda r: {})

    async def purge_queue(a: Input, c: RequestContext) -> dict[str, Any]:
        await registry.purge(await name_of(a, c))
        return {}

    async def tag_queue(a: Input, c: RequestContext) -> dict[str, Any]:
        await registry.tag(await name_of(a, c), a.get("Tags") or {})
        return {}

    async def untag_queue(a: Input, c: RequestContext) -> dict[str, Any]:
        await registry.untag(await name_of(a, c), a.get("TagKeys") or [])
        return {}

    async def list_queue_tags(a: Input, c: RequestContext) -> dict[str, Any]:
        tags = registry.get(await name_of(a, c)).tags
        return {"Tags": dict(tags)} if tags else {}

    async def list_dead_letter_source_queues(a: Input, c: RequestContext) -> dict[str, Any]:
        sources = registry.dead_letter_sources(await name_of(a, c))
        start = int(a["NextToken"]) if str(a.get("NextToken") or "").isdigit() else 0
        limit = a.get("MaxResults") or 1000
        page = sources[start : start + limit]
        out: dict[str, Any] = {"queueUrls": [url(n, c) for n in page]}
        if a.get("MaxResults") and start + limit < len(sources):
            out["NextToken"] = str(start + limit)
        return out

    async def add_permission(a: Input, c: RequestContext) -> dict[str, Any]:
        accounts, actions = list(a.get("AWSAccountIds") or []), list(a.get("Actions") or [])
        await registry.add_permission(await name_of(a, c), a["Label"], accounts, actions)
        return {}

    async def remove_permission(a: Input, c: RequestContext) -> dict[str, Any]:
        await registry.remove_permission(await name_of(a, c), a["Label"])
        return {}

    async def start_message_move_task(a: Input, c: RequestContext) -> dict[str, Any]:
        await service.here(service.mover.source_name(a["SourceArn"]), relayed=c.relayed_by is not None)
        rate = a.get("MaxNumberOfMessagesPerSecond")
        return {"TaskHandle": await service.mover.start(a["SourceArn"], a.get("DestinationArn"), rate)}

    async def cancel_message_move_task(a: Input, c: RequestContext) -> dict[str, Any]:
        task_id, source_arn = decode_handle(a["TaskHandle"])
        source = service.mover.source_name(source_arn)
        await service.here(source, relayed=c.relayed_by is not None)
        return {"ApproximateNumberOfMessagesMoved": await service.mover.cancel(task_id, source)}

    async def list_message_move_tasks(a: Input, c: RequestContext) -> dict[str, Any]:
        source = service.mover.source_name(a["SourceArn"])
        await service.here(source, relayed=c.relayed_by is not None)
        tasks = await service.mover.tasks(source, a.get("MaxResults"))
        return {"Results": [task.entry() for task in tasks]}

    every = {
        "CreateQueue": create_queue,
        "GetQueueUrl": get_queue_url,
        "DeleteQueue": delete_queue,
        "ListQueues": list_queues,
        "GetQueueAttributes": get_queue_attributes,
        "SetQueueAttributes": set_queue_attributes,
        "SendMessage": send_message,
        "SendMessageBatch": send_message_batch,
        "ReceiveMessage": receive_message,
        "DeleteMessage": delete_message,
        "DeleteMessageBatch": delete_message_batch,
        "ChangeMessageVisibility": change_message_visibility,
        "ChangeMessageVisibilityBatch": change_message_visibility_batch,
        "PurgeQueue": purge_queue,
        "TagQueue": tag_queue,
        "UntagQueue": untag_queue,
        "ListQueueTags": list_queue_tags,
        "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
        "AddPermission": add_permission,
        "RemovePermission": remove_permission,
        "StartMessageMoveTask": start_message_move_task,
        "CancelMessageMoveTask": cancel_message_move_task,
        "ListMessageMoveTasks": list_message_move_tasks,
    }
    return {operation: _relaying(handler) for operation, handler in every.items()}


def _relaying(handler: Handler) -> Handler:
    """The handler, with a request for a queue another node serves relayed to that node."""

    @functools.wraps(handler)
    async def relaying(a: Input, c: RequestContext) -> dict[str, Any]:
        try:
            return await handler(a, c)
        except QueueElsewhere as elsewhere:
            raise Relay(elsewhere.url) from None

    return relaying


def _attributes(raw: dict[str, Any] | None) -> dict[str, AttributeValue]:
    if not raw:
        return {}
    return {
        name: AttributeValue(value.get("DataType", ""), value.get("StringValue"), value.get("BinaryValue"))
        for name, value in raw.items()
    }


def _send_request(a: Input, trace_header: str | None) -> SendRequest:
    """One message to send; the request's X-Amzn-Trace-Id header is its AWSTraceHeader unless it names one."""
    return SendRequest(
        body=a.get("MessageBody") or "",
        attributes=_attributes(a.get("MessageAttributes")),
        system_attributes=_attributes(a.get("MessageSystemAttributes")),
        delay_seconds=a.get("DelaySeconds"),
        group_id=a.get("MessageGroupId"),
        deduplication_id=a.get("MessageDeduplicationId"),
        trace_header=trace_header,
    )


def _sent(result: SendResult) -> dict[str, Any]:
    out = {
        "MessageId": result.message_id,
        "MD5OfMessageBody": result.md5_of_body,
        "MD5OfMessageAttributes": result.md5_of_attributes,
        "MD5OfMessageSystemAttributes": result.md5_of_system_attributes,
        "SequenceNumber": result.sequence_number,
    }
    return {k: v for k, v in out.items() if v is not None}


def _message(m: ReceivedMessage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": m.message_id,
        "ReceiptHandle": m.receipt_handle,
        "MD5OfBody": m.md5_of_body,
    }
    out["Body"] = m.body
    if m.attributes:
        out["Attributes"] = m.attributes
    if m.message_attributes:
        out["MD5OfMessageAttributes"] = m.md5_of_message_attributes
        out["MessageAttributes"] = {name: _attribute_out(v) for name, v in m.message_attributes.items()}
    return out


def _attribute_out(value: AttributeValue) -> dict[str, Any]:
    if value.is_binary:
        return {"DataType": value.data_type, "BinaryValue": value.binary_value}
    return {"DataType": value.data_type, "StringValue": value.string_value}


def _batch(
    entries: list[Input], results: list[Any], success: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, EntryFailure):
            error = result.error
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": error.sender_fault,
                    "Code": error.code,
                    "Message": error.message,
                }
            )
        else:
            successful.append({"Id": entry["Id"], **success(result)})
    return {"Successful": successful, "Failed": failed} if failed else {"Successful": successful}
