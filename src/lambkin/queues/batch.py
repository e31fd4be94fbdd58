"""The rules a batch request (SendMessageBatch, DeleteMessageBatch, ...) obeys as a whole."""

from __future__ import annotations

import re

from lambkin.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
)

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_entry_ids(ids: list[str], entry_type: str) -> None:
    """The rules of a batch's entry ids; `entry_type` is the entries' shape ("SendMessageBatchRequestEntry")."""
    if not ids:
        raise EmptyBatchRequest(f"There should be at least one {entry_type} in the request.")
    if len(ids) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are 10. You have sent {len(ids)}."
        )
    for entry_id in ids:
        if not _ENTRY_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise BatchEntryIdsNotDistinct(f"Id {duplicate} repeated.")


def check_batch_size(total: int) -> None:
    if total > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
        )
