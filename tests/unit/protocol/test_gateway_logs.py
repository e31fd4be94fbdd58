"""The gateway speaking json 1.1 to a real CloudWatch Logs client."""

from __future__ import annotations

from typing import Any

import pytest

from lambkin.protocol.errors import AwsError
from tests.unit.protocol.wire import client, echo, gateway


def test_put_log_events_round_trip() -> None:
    handler, seen = echo({"nextSequenceToken": "2", "rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 0}})
    logs = client(gateway({"logs": {"PutLogEvents": handler}}), "logs")
    answer = logs.put_log_events(
        logGroupName="/aws/lambda/fn",
        logStreamName="2026/01/01/[$LATEST]abc",
        logEvents=[{"timestamp": 1700000000000, "message": "hello"}],
    )
    assert seen[0]["params"]["logEvents"] == [{"timestamp": 1700000000000, "message": "hello"}]
    assert answer["nextSequenceToken"] == "2"
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_logs_errors_and_validation() -> None:
    async def missing(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")

    logs = client(gateway({"logs": {"DescribeLogStreams": missing, "GetLogEvents": missing}}), "logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as raised:
        logs.describe_log_streams(logGroupName="nope")
    assert raised.value.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(logs.exceptions.InvalidParameterException) as invalid:
        logs.get_log_events(logGroupName="g", logStreamName="s:with:colon")
    assert "at 'logStreamName' failed to satisfy constraint" in invalid.value.response["Error"]["Message"]
