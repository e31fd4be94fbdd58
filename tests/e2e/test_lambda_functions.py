"""Functions through boto3 against a `lambkin server`: create, read, list, update, delete, states, restart."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.e2e.lambda_support import ROLE, create, create_active, push
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A server that may pull from registries on loopback: this module's stuck registry is one."""
    env = {"LAMBKIN_PRIVATE_REGISTRIES": "127.0.0.1"}
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data", env=env).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def images(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    work = tmp_path_factory.mktemp("images")
    return {
        "v1": push(server, work, "fn-app", "v1", "one"),
        "v2": push(server, work, "fn-app", "v2", "two"),
    }


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Iterator[Any]:
    yield server.client("lambda")


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_create_goes_pending_then_active(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    uri, digest = images["v1"]
    created = create(
        lam, "active-fn", uri, MemorySize=256, Timeout=30, Environment={"Variables": {"AA": "1"}}
    )
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["PackageType"] == "Image"
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:active-fn"
    lam.get_waiter("function_active_v2").wait(FunctionName="active-fn", WaiterConfig={"Delay": 1})
    found = lam.get_function(FunctionName="active-fn")
    config = found["Configuration"]
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["CodeSha256"] == digest.removeprefix("sha256:")
    assert (config["MemorySize"], config["Timeout"], config["Environment"]) == (
        256,
        30,
        {"Variables": {"AA": "1"}},
    )
    assert found["Code"] == {
        "RepositoryType": "ECR",
        "ImageUri": uri,
        "ResolvedImageUri": uri.rsplit(":", 1)[0] + "@" + digest,
    }


def test_unresolvable_image_ends_failed(lam: Any, server: LambkinServer) -> None:
    create(lam, "missing-image", f"{server.registry}/nothing-here:v1")
    with pytest.raises(WaiterError):
        lam.get_waiter("function_active_v2").wait(FunctionName="missing-image", WaiterConfig={"Delay": 1})
    config = lam.get_function_configuration(FunctionName="missing-image")
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "ImageDeleted"
    assert "nothing-here" in config["StateReason"]


def test_a_failed_function_recovers_with_new_code(
    lam: Any, server: LambkinServer, images: dict[str, tuple[str, str]]
) -> None:
    create(lam, "recovering", f"{server.registry}/absent-repo:v1")
    with pytest.raises(WaiterError):
        lam.get_waiter("function_active_v2").wait(FunctionName="recovering", WaiterConfig={"Delay": 1})
    retried = lam.update_function_code(FunctionName="recovering", ImageUri=images["v1"][0])
    assert (retried["State"], retried["LastUpdateStatus"]) == ("Pending", "InProgress")
    lam.get_waiter("function_active_v2").wait(FunctionName="recovering", WaiterConfig={"Delay": 1})
    config = lam.get_function_configuration(FunctionName="recovering")
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReasonCode" not in config


def test_every_name_form_finds_the_function(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    create_active(lam, "named", images["v1"][0])
    arn = "arn:aws:lambda:us-east-1:000000000000:function:named"
    for form in ("named", "000000000000:function:named", arn, f"{arn}:$LATEST", "named:$LATEST"):
        assert lam.get_function_configuration(FunctionName=form)["FunctionName"] == "named"
    code, status, _ = error_of(lam.get_function, FunctionName="named:1", Qualifier="2")
    assert (code, status) == ("InvalidParameterValueException", 400)
    code, _, message = error_of(
        lam.get_function, FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:named"
    )
    assert code == "InvalidParameterValueException"
    assert "not reachable" in message


def test_not_found_and_conflict_errors_match_boto3_exceptions(
    lam: Any, images: dict[str, tuple[str, str]]
) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.get_function(FunctionName="nope")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    )
    create(lam, "twice", images["v1"][0])
    with pytest.raises(lam.exceptions.ResourceConflictException, match="Function already exist: twice"):
        create(lam, "twice", images["v1"][0])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="twice", Qualifier="7")


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"MemorySize": 10_241}, "ValidationException", "less than or equal to 10240"),
        ({"Timeout": 901}, "ValidationException", "less than or equal to 900"),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            "reserved keys",
        ),
        ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException", "4KB"),
        ({"Architectures": ["arm64"]}, "InvalidParameterValueException", "arm64"),
    ],
)
def test_semantic_validation(
    lam: Any, images: dict[str, tuple[str, str]], extra: dict[str, Any], code: str, fragment: str
) -> None:
    got, status, message = error_of(create, client=lam, name="invalid", image_uri=images["v1"][0], **extra)
    assert (got, status) == (code, 400)
    assert fragment in message


def test_a_zip_on_a_runtime_the_server_has_not_built_is_refused_clearly(lam: Any) -> None:
    with pytest.raises(
        lam.exceptions.InvalidParameterValueException, match=r"Value python3\.12 at 'runtime'"
    ):
        lam.create_function(
            FunctionName="zipped",
            Role=ROLE,
            Runtime="python3.12",
            Handler="app.handler",
            Code={"ZipFile": b"PK"},
        )
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="Source image"):
        create(lam, "bad-uri", "Not A Valid/URI")


def test_update_code_pins_the_tag_and_waits_with_function_updated_v2(
    lam: Any, server: LambkinServer, images: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    first = create_active(lam, "updated", images["v1"][0])
    updating = lam.update_function_code(FunctionName="updated", ImageUri=images["v2"][0])
    assert updating["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName="updated", WaiterConfig={"Delay": 1})
    after = lam.get_function(FunctionName="updated")
    assert after["Configuration"]["CodeSha256"] == images["v2"][1].removeprefix("sha256:")
    assert after["Configuration"]["RevisionId"] != first["RevisionId"]
    push(server, tmp_path, "fn-app", "v2", "retagged")  # the tag moves; the function does not
    again = lam.get_function(FunctionName="updated")
    assert again["Code"]["ResolvedImageUri"].endswith(images["v2"][1])


def test_an_update_in_progress_refuses_other_updates(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    create_active(lam, "busy", images["v1"][0])
    # A registry that accepts connections and never answers keeps the code update InProgress for as long as
    # the test needs (an image lambkin already has may settle before the next request arrives).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        stuck = f"127.0.0.1:{silent.getsockname()[1]}/stuck:v1"
        updating = lam.update_function_code(FunctionName="busy", ImageUri=stuck)
        assert updating["LastUpdateStatus"] == "InProgress"
        with pytest.raises(lam.exceptions.ResourceConflictException, match="update is in progress"):
            lam.update_function_configuration(FunctionName="busy", Timeout=9)
    # the registry is gone: the update fails, and the function keeps running its old code
    for _ in range(300):
        settled = lam.get_function_configuration(FunctionName="busy")
        if settled["LastUpdateStatus"] != "InProgress":
            break
        time.sleep(0.1)
    assert (settled["State"], settled["LastUpdateStatus"]) == ("Active", "Failed")


def test_update_configuration_and_revision_ids(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    before = create_active(lam, "configured", images["v1"][0])
    updated = lam.update_function_configuration(
        FunctionName="configured",
        RevisionId=before["RevisionId"],
        MemorySize=1024,
        Timeout=60,
        Description="configured",
        EphemeralStorage={"Size": 2048},
        Environment={"Variables": {"KEY": "value"}},
        ImageConfig={"EntryPoint": ["/bin/sh"], "Command": ["-c", "echo"], "WorkingDirectory": "/tmp"},
    )
    assert (updated["MemorySize"], updated["Timeout"], updated["EphemeralStorage"]) == (
        1024,
        60,
        {"Size": 2048},
    )
    assert updated["ImageConfigResponse"] == {
        "ImageConfig": {"EntryPoint": ["/bin/sh"], "Command": ["-c", "echo"], "WorkingDirectory": "/tmp"}
    }
    with pytest.raises(lam.exceptions.PreconditionFailedException) as caught:
        lam.update_function_configuration(
            FunctionName="configured", RevisionId=before["RevisionId"], Timeout=5
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(
            FunctionName="configured", ImageUri=images["v2"][0], RevisionId=before["RevisionId"]
        )


def test_list_functions_paginates(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    for index in range(7):
        create(lam, f"page-{index}", images["v1"][0])
    pages = list(lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 3}))
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert [n for n in names if n.startswith("page-")] == [f"page-{i}" for i in range(7)]
    assert len(names) == len(set(names))
    first = lam.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2
    assert "NextMarker" in first


def test_a_listing_shows_every_write_made_since_it_was_last_read(
    lam: Any, images: dict[str, tuple[str, str]]
) -> None:
    def listed() -> dict[str, dict[str, Any]]:
        pages = lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        found = [f for page in pages for f in page["Functions"] if f["FunctionName"].startswith("span-")]
        assert len(found) == len({f["FunctionName"] for f in found})
        return {f["FunctionName"]: f for f in found}

    for name in ("span-a", "span-b", "span-c", "span-d", "span-e"):
        create_active(lam, name, images["v1"][0])
    assert list(listed()) == ["span-a", "span-b", "span-c", "span-d", "span-e"]
    lam.update_function_configuration(FunctionName="span-e", MemorySize=256)
    create_active(lam, "span-bb", images["v1"][0])
    lam.delete_function(FunctionName="span-d")
    lam.tag_resource(
        Resource=lam.get_function(FunctionName="span-a")["Configuration"]["FunctionArn"], Tags={"t": "1"}
    )
    shown = listed()
    assert list(shown) == ["span-a", "span-b", "span-bb", "span-c", "span-e"]
    for name, listed_configuration in shown.items():
        configuration = lam.get_function_configuration(FunctionName=name)
        configuration.pop("ResponseMetadata")
        assert listed_configuration == configuration
    assert shown["span-e"]["MemorySize"] == 256


def test_delete_function(lam: Any, images: dict[str, tuple[str, str]]) -> None:
    create(lam, "doomed", images["v1"][0])
    assert lam.delete_function(FunctionName="doomed")["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="doomed")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName="doomed")


def test_everything_survives_kill_9(
    lam: Any, server: LambkinServer, images: dict[str, tuple[str, str]]
) -> None:
    create_active(lam, "durable", images["v1"][0], Tags={"team": "core"})
    lam.publish_version(FunctionName="durable")
    lam.create_alias(FunctionName="durable", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=5)
    pending = create(lam, "pending-at-kill", images["v2"][0])
    assert pending["State"] == "Pending"
    server.restart(kill=True)
    fresh = server.client("lambda")
    found = fresh.get_function(FunctionName="durable")
    assert found["Configuration"]["State"] == "Active"
    assert found["Tags"] == {"team": "core"}
    assert found["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert fresh.get_alias(FunctionName="durable", Name="live")["FunctionVersion"] == "1"
    fresh.get_waiter("function_active_v2").wait(FunctionName="pending-at-kill", WaiterConfig={"Delay": 1})


def test_arns_follow_the_configured_region_and_account(
    tmp_path: Path, server: LambkinServer, images: dict[str, tuple[str, str]]
) -> None:
    env = {
        "LAMBKIN_REGION": "eu-west-1",
        "LAMBKIN_ACCOUNT_ID": "123456789012",
        "LAMBKIN_PRIVATE_REGISTRIES": server.registry,  # it pulls the image from the module's server
    }
    other = LambkinServer(tmp_path / "data", env=env).start()
    try:
        lam = boto3.client(
            "lambda",
            endpoint_url=other.endpoint,
            region_name="eu-west-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        created = create(lam, "elsewhere", images["v1"][0])
        assert created["FunctionArn"] == "arn:aws:lambda:eu-west-1:123456789012:function:elsewhere"
        assert lam.get_function(FunctionName="123456789012:function:elsewhere")["Configuration"][
            "FunctionName"
        ] == ("elsewhere")
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName="000000000000:function:elsewhere")
        alias_arn = lam.create_alias(FunctionName="elsewhere", Name="a", FunctionVersion="$LATEST")[
            "AliasArn"
        ]
        assert alias_arn == "arn:aws:lambda:eu-west-1:123456789012:function:elsewhere:a"
    finally:
        other.stop()
