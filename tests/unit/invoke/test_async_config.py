"""Destination checks at configuration time, the routing of a finished event, and the sandbox's endpoint env."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lambkin.config import Credentials
from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.event_invoke_config import check_destination
from lambkin.invoke.async_dispatcher import route
from lambkin.invoke.async_endpoint import Endpoint, endpoint_env, own_endpoint
from lambkin.invoke.async_lifecycle import EVENT_AGE_EXCEEDED, SUCCESS, Finish
from lambkin.sandbox.spec import SandboxSpec

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


def test_the_sandbox_env_points_an_sdk_at_the_relay() -> None:
    spec = SandboxSpec(
        id="e1",
        lower_dirs=(Path("/"),),
        args=("x",),
        env=(("AWS_LAMBDA_FUNCTION_NAME", "fn"), ("AWS_ACCESS_KEY_ID", "user-set")),
    )
    server = Credentials("LKIASERVERKEY0000000", "server-secret")
    env = dict(endpoint_env(spec, Endpoint("127.0.0.1", 9000, server), 9002))
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9002"
    own = server.for_function("fn")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        own.access_key_id,
        own.secret_access_key,
    )
    assert server.secret_for(env["AWS_ACCESS_KEY_ID"]) == env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"] == "lambkin-function-fn"
    assert [k for k, _ in endpoint_env(spec, Endpoint("h", 1, server))].count("AWS_ACCESS_KEY_ID") == 1
    assert own_endpoint("0.0.0.0", 9000, server).host == "127.0.0.1"
