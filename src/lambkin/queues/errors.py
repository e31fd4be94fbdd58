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
├── MessageNotInflight         ChangeMessageVisibility on a FIFO message whose delivery's timeout ended
├── PurgeQueueInProgress       a second PurgeQueue within 60 seconds
├── UnsupportedOperation       an operation this queue type does not allow
├── OverLimit                  AddPermission with more actions than a statement may hold
├── ResourceNotFoundException  a message move task, or the queue an ARN names, is not there
├── QueueUnavailable           the queue is changing hands between nodes, or none can serve it: retry
└── batch request errors: EmptyBatchRequest, TooManyEntriesInBatchRequest,
    BatchEntryIdsNotDistinct, BatchRequestTooLong, InvalidBatchEntryId

QueueElsewhere (not a QueueError: never rendered) says the queue is another node's: the API relays there.
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


def check_range(name: str, value: int, low: int, high: int) -> None:
    """InvalidParameterValue, in SQS's words, for a numeric parameter outside [low, high]."""
    if not low <= value <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {name} is invalid. Reason: Must be between {low} and {high}, if provided."
        )


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


class ResourceNotFoundException(QueueError):
    code = "ResourceNotFoundException"


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


class QueueUnavailable(QueueError):
    """A retryable fault of the server: rendered as SQS's ServiceUnavailable (503)."""

    code = "ServiceUnavailable"
    sender_fault = False

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The request has failed due to a temporary failure of the server ({reason}). Retry shortly."
        )


class QueueElsewhere(Exception):
    """The queue is owned by another node (`node`, reached at `url`): the request belongs there."""

    def __init__(self, url: str, node: str) -> None:
        super().__init__(f"the queue is served by {node} at {url}")
        self.url = url
        self.node = node
