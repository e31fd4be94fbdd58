"""The sandbox's own AWS endpoint: the variable that points an SDK at the relay, and nothing else of ours."""

from __future__ import annotations

from pathlib import Path

from lambkin.environments.aws_endpoint import endpoint_env, own_endpoint
from lambkin.sandbox.spec import SandboxSpec


def test_the_sandbox_env_points_an_sdk_at_the_relay_and_keeps_the_environments_credentials() -> None:
    spec = SandboxSpec(
        id="e1",
        lower_dirs=(Path("/"),),
        args=("x",),
        env=(("AWS_ACCESS_KEY_ID", "ASIASESSION"), ("AWS_ENDPOINT_URL", "http://elsewhere")),
    )
    env = endpoint_env(spec, 9002)
    assert dict(env) == {"AWS_ACCESS_KEY_ID": "ASIASESSION", "AWS_ENDPOINT_URL": "http://127.0.0.1:9002"}
    assert [k for k, _ in env].count("AWS_ENDPOINT_URL") == 1
    assert own_endpoint("0.0.0.0", 9000).host == "127.0.0.1"
