"""The queue engine's closed vocabulary of domain errors (no HTTP here; the gateway renders them).

QueueError
├── QueueDoesNotExist          the named queue is not there
├── QueueNameExists            CreateQueue with attributes that differ from the existing queue's
├── InvalidAttributeName       an unknown or inapplicable queue attribute
├── InvalidAttributeValue      a queue attribute out of range or malformed
├── InvalidParameterValue      a request parameter out of range or malformed
├── MissingParameter           a required parameter is absent
├── InvalidMessageContents     a body with characters outside SQS's allowed set
├── ReceiptHandleIsInvalid     a receipt handle that is not one of ours
├── MessageNotInflight         ChangeMessageVisibility on a message nobody holds
├── PurgeQueueInProgress       a second PurgeQueue within 60 seconds
├── UnsupportedOperation       an operation this queue type does not allow
├── OverLimit                  AddPermission with more actions than a statement may hold
└── batch request errors: EmptyBatchRequest, TooManyEntriesInBatchRequest,
    BatchEntryIdsNotDistinct, BatchRequestTooLong, InvalidBatchEntryId
"""

from __future__ import annotations


class QueueError(Exception):
    """A request the queue engine refuses; `code` is the SQS error name (the JSON protocol's)."""

    code = "QueueError"
    sender_fault = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueueDoesNotExist(QueueError):
    code = "QueueDoesNotExist"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(QueueError):
    code = "QueueNameExists"


class InvalidAttributeName(QueueError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(QueueError):
    code = "InvalidAttributeValue"


class InvalidParameterValue(QueueError):
    code = "InvalidParameterValue"


class MissingParameter(QueueError):
    code = "MissingParameter"


class InvalidMessageContents(QueueError):
    code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(QueueError):
    code = "ReceiptHandleIsInvalid"


class MessageNotInflight(QueueError):
    code = "MessageNotInflight"

    def __init__(self, message: str = "The message referred to isn't in flight.") -> None:
        super().__init__(message)


class PurgeQueueInProgress(QueueError):
    code = "PurgeQueueInProgress"


class QueueDeletedRecently(QueueError):
    code = "QueueDeletedRecently"


class UnsupportedOperation(QueueError):
    code = "UnsupportedOperation"


class OverLimit(QueueError):
    code = "OverLimit"


class EmptyBatchRequest(QueueError):
    code = "EmptyBatchRequest"


class TooManyEntriesInBatchRequest(QueueError):
    code = "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(QueueError):
    code = "BatchEntryIdsNotDistinct"


class BatchRequestTooLong(QueueError):
    code = "BatchRequestTooLong"


class InvalidBatchEntryId(QueueError):
    code = "InvalidBatchEntryId"
