"""Provisioned concurrency: configs on published versions and aliases, environments initialized ahead of any
invoke and kept however idle, and Lambda's errors for what cannot be provisioned."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer

pytestmark = pytest.mark.runc

IDLE_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """Idle environments are reaped after a second here, so that what stays is what is provisioned."""
    data = Path(tmp_path_factory.mktemp("provisioned")) / "data"
    instance = LambkinServer(data, env={"LAMBKIN_IDLE_TIMEOUT": str(IDLE_TIMEOUT_S)}).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def published(lam: Any, handlers_uri: str) -> str:
    create_active(lam, "provisioned", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    assert lam.publish_version(FunctionName="provisioned")["Version"] == "1"
    lam.create_alias(FunctionName="provisioned", Name="live", FunctionVersion="1")
    return "provisioned"


def wait_ready(lam: Any, name: str, qualifier: str, limit_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if config["Status"] == "READY" or time.monotonic() > deadline:
            return config
        time.sleep(0.2)


def init_duration_logged(lam: Any, name: str, qualifier: str) -> bool:
    """Whether an invoke needed a cold start (its REPORT line carries Init Duration)."""
    response = lam.invoke(
        FunctionName=name, Qualifier=qualifier, Payload=json.dumps({}).encode(), LogType="Tail"
    )
    assert "FunctionError" not in response
    return "Init Duration" in base64.b64decode(response["LogResult"]).decode()


def test_provisioned_environments_are_ready_before_the_first_invoke_and_outlive_idleness(
    lam: Any, published: str
) -> None:
    answer = lam.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["RequestedProvisionedConcurrentExecutions"] == 2
    assert answer["Status"] in ("IN_PROGRESS", "READY")
    config = wait_ready(lam, published, "1")
    assert config["Status"] == "READY", config
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["AvailableProvisionedConcurrentExecutions"] == 2

    assert not init_duration_logged(lam, published, "1")  # the first invoke finds an initialized environment
    time.sleep(IDLE_TIMEOUT_S * 3)  # well past the idle timeout: unprovisioned environments are gone by now
    assert not init_duration_logged(lam, published, "1")
    assert wait_ready(lam, published, "1")["AllocatedProvisionedConcurrentExecutions"] == 2


def test_without_a_config_an_idle_environment_is_reaped(lam: Any, published: str) -> None:
    init_duration_logged(lam, published, "$LATEST")  # warm one up
    time.sleep(IDLE_TIMEOUT_S * 3)
    assert init_duration_logged(lam, published, "$LATEST")  # the control: reaping does happen here


def test_an_alias_can_be_provisioned_and_configs_are_listed(lam: Any, published: str) -> None:
    lam.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lam, published, "live")["Status"] == "READY"
    listed = lam.list_provisioned_concurrency_configs(FunctionName=published)["ProvisionedConcurrencyConfigs"]
    arns = {item["FunctionArn"].rsplit(":", 1)[1]: item for item in listed}
    assert arns["live"]["RequestedProvisionedConcurrentExecutions"] == 1
    assert arns["1"]["RequestedProvisionedConcurrentExecutions"] == 2
    first = lam.list_provisioned_concurrency_configs(FunctionName=published, MaxItems=1)
    rest = lam.list_provisioned_concurrency_configs(FunctionName=published, Marker=first["NextMarker"])
    paged = first["ProvisionedConcurrencyConfigs"] + rest["ProvisionedConcurrencyConfigs"]
    assert [item["FunctionArn"] for item in paged] == [item["FunctionArn"] for item in listed]
    assert "NextMarker" not in rest


def test_deleting_a_config_and_getting_it_again(lam: Any, published: str) -> None:
    lam.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    answer = lam.delete_provisioned_concurrency_config(FunctionName=published, Qualifier="live")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=published, Qualifier="live")


def test_deleting_a_config_that_is_not_there_is_resource_not_found(lam: Any, published: str) -> None:
    """Delete's model lists ResourceNotFoundException, not Get's ProvisionedConcurrencyConfigNotFoundException."""
    lam.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    lam.delete_provisioned_concurrency_config(FunctionName=published, Qualifier="live")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.delete_provisioned_concurrency_config(FunctionName=published, Qualifier="live")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "No Provisioned Concurrency Config found for this function" in str(missing.value)


def test_what_cannot_be_provisioned_gets_lambdas_errors(lam: Any, published: str) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as unpublished:
        lam.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert "unpublished" in str(unpublished.value)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="7", ProvisionedConcurrentExecutions=1
        )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_provisioned_concurrency_config(
            FunctionName="nobody", Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    lam.put_function_concurrency(FunctionName=published, ReservedConcurrentExecutions=2)
    try:
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.put_provisioned_concurrency_config(
                FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=3
            )
    finally:
        lam.delete_function_concurrency(FunctionName=published)
    # Without reserved concurrency it comes from the account's unreserved 1,000, which keeps 100.
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as beyond_account:
        lam.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=8_589_934_592
        )
    assert "below its minimum value of [100]" in str(beyond_account.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=901
        )
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=published, Qualifier="2")


def test_a_version_whose_init_fails_is_failed_with_the_reason(lam: Any, handlers_uri: str) -> None:
    create_active(lam, "provisioned-broken", handlers_uri, ImageConfig={"Command": ["nosuchmodule.handler"]})
    lam.publish_version(FunctionName="provisioned-broken")
    lam.put_provisioned_concurrency_config(
        FunctionName="provisioned-broken", Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    deadline = time.monotonic() + 60
    config = lam.get_provisioned_concurrency_config(FunctionName="provisioned-broken", Qualifier="1")
    while config["Status"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        config = lam.get_provisioned_concurrency_config(FunctionName="provisioned-broken", Qualifier="1")
    assert config["Status"] == "FAILED", config
    assert config["AllocatedProvisionedConcurrentExecutions"] == 0
    assert "Runtime.ImportModuleError" in config["StatusReason"]
