"""Destination checks at configuration time and the routing of a finished event."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.event_invoke_config import check_destination
from lambkin.invoke.async_dispatcher import route
from lambkin.invoke.async_lifecycle import EVENT_AGE_EXCEEDED, SUCCESS, Finish

OWN = "arn:aws:lambda:us-east-1:000000000000:function:me"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sqs:us-east-1:000000000000:queue",
        "arn:aws:lambda:us-east-1:000000000000:function:other",
        "arn:aws:lambda:us-east-1:000000000000:function:other:live",
    ],
)
def test_queues_and_other_functions_are_accepted(arn: str) -> None:
    check_destination(arn, OWN)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sns:us-east-1:000000000000:topic",
        "arn:aws:events:us-east-1:000000000000:event-bus/default",
        "arn:aws:s3:::bucket",
        "arn:aws:dynamodb:us-east-1:000000000000:table/t",
        "not-an-arn",
        OWN,
        OWN + ":$LATEST",
    ],
)
def test_other_targets_and_the_function_itself_are_refused(arn: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_destination(arn, OWN)


@dataclass(frozen=True)
class Config:
    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = "arn:ok"
    on_failure: str | None = "arn:failed"


def test_route_picks_the_destination_for_the_outcome_and_the_dlq_on_failure_only() -> None:
    assert route(Finish(SUCCESS), Config(), "arn:dlq") == ("arn:ok", None)
    assert route(Finish(EVENT_AGE_EXCEEDED), Config(), "arn:dlq") == ("arn:failed", "arn:dlq")
    assert route(Finish(EVENT_AGE_EXCEEDED), None, None) == (None, None)
    assert route(Finish(SUCCESS), Config(on_success=None), None) == (None, None)
