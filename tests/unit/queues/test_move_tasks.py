"""Message move task records: their handles and how ListMessageMoveTasks shows them."""

from __future__ import annotations

import pytest

from lambkin.queues.errors import InvalidParameterValue
from lambkin.queues.move_tasks import CANCELLED, FAILED, RUNNING, MoveTask, decode_handle

DLQ = "arn:aws:sqs:us-east-1:000000000000:dead"


def task(status: str, **changes: object) -> MoveTask:
    made = MoveTask("id-1", "dead", DLQ, None, None, status, 3, 5, 1_700_000_000_000)
    for name, value in changes.items():
        setattr(made, name, value)
    return made


def test_a_handle_names_its_task_and_source() -> None:
    assert decode_handle(task(RUNNING).handle) == ("id-1", DLQ)


@pytest.mark.parametrize("handle", ["", "garbage", "e30=", "WyJhIl0="])  # "", junk, "{}", '["a"]'
def test_a_handle_not_ours_is_an_invalid_parameter(handle: str) -> None:
    with pytest.raises(InvalidParameterValue) as raised:
        decode_handle(handle)
    assert raised.value.message == "Value for parameter TaskHandle is invalid."


def test_only_a_running_task_shows_its_handle_and_only_a_failed_one_its_reason() -> None:
    running = task(RUNNING, rate=10, destination_arn=DLQ + "-2").entry()
    assert running == {
        "Status": RUNNING,
        "SourceArn": DLQ,
        "DestinationArn": DLQ + "-2",
        "MaxNumberOfMessagesPerSecond": 10,
        "ApproximateNumberOfMessagesMoved": 3,
        "ApproximateNumberOfMessagesToMove": 5,
        "StartedTimestamp": 1_700_000_000_000,
        "TaskHandle": task(RUNNING).handle,
    }
    assert "TaskHandle" not in task(CANCELLED).entry()
    assert task(FAILED, failure="AWS.SimpleQueueService.NonExistentQueue").entry()["FailureReason"] == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )
    assert "FailureReason" not in task(CANCELLED, failure="x").entry()
