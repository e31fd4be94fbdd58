"""What the current SQS model no longer says about SQS's query protocol, from its query-era model.

botocore ≥1.34.90 speaks json to SQS and its model dropped the query protocol's XML/form names and
legacy error codes, but older SDKs and tools still send `Action=...` forms and expect XML. These tables
are the facts of botocore 1.29's `sqs/2012-11-05/service-2.json` (protocol `query`); `query_model()`
lays them over the current model so one set of shapes serves both protocols.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

SQS_XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# Error shape → (query code, HTTP status). Shapes not listed use their own name and 400.
SQS_QUERY_ERRORS: dict[str, tuple[str, int]] = {
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "InvalidSecurity": ("InvalidSecurity", 403),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "OverLimit": ("OverLimit", 403),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "RequestThrottled": ("RequestThrottled", 403),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
}

# SQS's common errors that its model does not declare → the JSON protocol's `__type` for them (the query code
# stays in `x-amzn-query-error`, so botocore's Error.Code is unchanged; other SDKs name their exception from it).
SQS_JSON_TYPES: dict[str, str] = {
    "AccessDenied": "AccessDeniedException",
    "InvalidParameterValue": "InvalidParameterValueException",
    "MissingParameter": "MissingRequiredParameterException",
}

# Messages SQS words otherwise in its query protocol (the JSON protocol's → the query protocol's).
_SQS_QUERY_MESSAGES = {
    "The specified queue does not exist.": "The specified queue does not exist for this wsdl version.",
}

# Structure member → its form/XML name.
_MEMBER_NAMES: dict[tuple[str, str], str] = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
    ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
}
_FLATTENED_MEMBERS = {
    ("MessageAttributeValue", "StringListValues"),
    ("MessageAttributeValue", "BinaryListValues"),
    ("MessageSystemAttributeValue", "StringListValues"),
    ("MessageSystemAttributeValue", "BinaryListValues"),
}

# List shape → the name of each element.
_LIST_MEMBER_NAMES: dict[str, str] = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}

# Map shape → (key name, value name, the map's own name or None).
_MAP_NAMES: dict[str, tuple[str, str, str | None]] = {
    "MessageBodyAttributeMap": ("Name", "Value", None),
    "MessageBodySystemAttributeMap": ("Name", "Value", None),
    "MessageSystemAttributeMap": ("Name", "Value", "Attribute"),
    "QueueAttributeMap": ("Name", "Value", "Attribute"),
    "TagMap": ("Key", "Value", "Tag"),
}


def query_error(service: str, code: str) -> tuple[str, int | None]:
    """The legacy query code of an error shape and its status, for `x-amzn-query-error` and XML."""
    if service == "sqs" and code in SQS_QUERY_ERRORS:
        legacy, status = SQS_QUERY_ERRORS[code]
        return legacy, status
    return code, None


def query_message(service: str, message: str) -> str:
    """An error's message as the service's query protocol words it."""
    return _SQS_QUERY_MESSAGES.get(message, message) if service == "sqs" else message


def json_type(service: str, code: str) -> str | None:
    """The JSON protocol's full `__type` of an SQS error (None: the service is not SQS, or the error is not
    SQS's own)."""
    if service != "sqs":
        return None
    return "com.amazonaws.sqs#" + SQS_JSON_TYPES.get(code, code)


@cache
def query_model(service: str) -> ServiceModel:
    """The service's current model re-dressed as its query-era self (protocol, names, result wrappers)."""
    loaded: dict[str, Any] = copy.deepcopy(Loader().load_service_model(service, "service-2"))
    loaded["metadata"]["protocol"] = "query"
    loaded["metadata"]["protocols"] = ["query"]
    if service != "sqs":  # a model that still carries its query names (CloudWatch's)
        return ServiceModel(loaded, service_name=service)
    loaded["metadata"]["xmlNamespace"] = SQS_XML_NAMESPACE
    shapes: dict[str, Any] = loaded["shapes"]
    for (shape, member), name in _MEMBER_NAMES.items():
        if shape in shapes and member in shapes[shape]["members"]:
            shapes[shape]["members"][member]["locationName"] = name
            if (shape, member) in _FLATTENED_MEMBERS:
                shapes[shape]["members"][member]["flattened"] = True
    for shape, name in _LIST_MEMBER_NAMES.items():
        if shape in shapes:
            shapes[shape]["member"]["locationName"] = name
    for shape, (key, value, own) in _MAP_NAMES.items():
        if shape in shapes:
            shapes[shape]["key"]["locationName"] = key
            shapes[shape]["value"]["locationName"] = value
            if own is not None:
                shapes[shape]["locationName"] = own
    for code, (legacy, status) in SQS_QUERY_ERRORS.items():
        if code in shapes:
            shapes[code]["error"] = {"code": legacy, "httpStatusCode": status, "senderFault": True}
    for name, operation in loaded["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
    return ServiceModel(loaded, service_name=service)
