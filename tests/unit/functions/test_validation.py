"""Lambda's semantic limits, reserved keys, image references and routing weights."""

from __future__ import annotations

import pytest

from lambkin.functions import validation
from lambkin.functions.errors import InvalidParameterValue, ValidationFailed


@pytest.mark.parametrize("value", [127, 10_241, 32_768])
def test_memory_outside_default_lambda_limits(value: int) -> None:
    with pytest.raises(ValidationFailed, match="memorySize"):
        validation.check_memory_size(value)


@pytest.mark.parametrize("value", [0, 901, 5400])
def test_timeout_outside_900_seconds(value: int) -> None:
    with pytest.raises(ValidationFailed, match="timeout"):
        validation.check_timeout(value)


def test_limits_themselves_are_accepted() -> None:
    assert validation.check_memory_size(10_240) == 10_240
    assert validation.check_timeout(900) == 900
    assert validation.check_ephemeral_storage(512) == 512


@pytest.mark.parametrize("key", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_ANYTHING", "_HANDLER"])
def test_reserved_environment_keys(key: str) -> None:
    with pytest.raises(InvalidParameterValue, match=f"Reserved keys used in this request: {key}"):
        validation.check_environment({key: "x", "MINE": "y"})


def test_environment_over_4kb() -> None:
    with pytest.raises(InvalidParameterValue, match="exceeded the 4KB limit"):
        validation.check_environment({"BIG": "x" * 4096})
    assert validation.check_environment({"SMALL": "x" * 4000}) == {"SMALL": "x" * 4000}


@pytest.mark.parametrize(
    "uri",
    [
        "localhost:9000/app:v1",
        "127.0.0.1:9000/team/app@sha256:" + "a" * 64,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
        "app",
    ],
)
def test_valid_image_references(uri: str) -> None:
    assert validation.check_image_uri(uri) == uri


@pytest.mark.parametrize("uri", ["", "host/UPPER", "host:9000/app:", "a b", "app@sha256:short"])
def test_invalid_image_references(uri: str) -> None:
    with pytest.raises(InvalidParameterValue, match="is not valid"):
        validation.check_image_uri(uri)


def test_image_functions_take_no_runtime_handler_or_layers() -> None:
    validation.check_image_options(None, None, None)
    for given in (("python3.12", None, None), (None, "app.handler", None), (None, None, ["arn"])):
        with pytest.raises(InvalidParameterValue, match="don't provide Handler or Runtime or Layer"):
            validation.check_image_options(*given)


def test_architectures_follow_the_host() -> None:
    assert validation.check_architectures(["x86_64"], "x86_64") == ("x86_64",)
    with pytest.raises(InvalidParameterValue, match="arm64 is not supported"):
        validation.check_architectures(["arm64"], "x86_64")


def test_routing_weights() -> None:
    assert validation.check_weights("1", {"2": 0.3}) == {"2": 0.3}
    with pytest.raises(InvalidParameterValue, match="already included"):
        validation.check_weights("1", {"1": 0.5})
    with pytest.raises(InvalidParameterValue, match=r"\$LATEST is not supported"):
        validation.check_weights("$LATEST", {"1": 0.5})
    with pytest.raises(InvalidParameterValue):
        validation.check_weights("1", {"2": 0.1, "3": 0.1})
