"""SQS batch handlers for event source mapping tests: records whose body contains "fail" fail."""

import json
from typing import Any


def report(event: Any, context: Any) -> Any:
    """Reports the failing records as batchItemFailures; the others succeed."""
    failures = [
        {"itemIdentifier": record["messageId"]} for record in event["Records"] if "fail" in record["body"]
    ]
    return {"batchItemFailures": failures}


def strict(event: Any, context: Any) -> Any:
    """Raises when any record fails, so the whole batch fails; else returns the bodies it saw, in order."""
    bodies = [record["body"] for record in event["Records"]]
    if any("fail" in body for body in bodies):
        raise ValueError("a record failed on purpose")
    return {"bodies": bodies}


def show(event: Any, context: Any) -> Any:
    """Prints the event as one JSON log line ("EVENT {...}") for the test to read back, then succeeds."""
    print("EVENT " + json.dumps(event), flush=True)
    return None
