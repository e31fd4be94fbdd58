"""The sandbox's own AWS endpoint: the variables that point an SDK at the relay, with the function's keys."""

from __future__ import annotations

from pathlib import Path

from lambkin.credentials import Credentials
from lambkin.environments.aws_endpoint import Endpoint, endpoint_env, own_endpoint
from lambkin.sandbox.spec import SandboxSpec


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
