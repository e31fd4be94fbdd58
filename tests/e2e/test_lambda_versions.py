"""Versions, aliases, reserved concurrency, tags and account settings through boto3 against `lambkin server`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.lambda_support import create_active, execution_role, push
from tests.harness import LambkinServer

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def image(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push(server, tmp_path_factory.mktemp("images"), "versions-app", "v1", "versions")[0]


def test_publish_versions_and_list_them(lam: Any, image: str) -> None:
    latest = create_active(lam, "pub", image)
    first = lam.publish_version(FunctionName="pub", Description="first")
    assert (first["Version"], first["Description"]) == ("1", "first")
    assert first["FunctionArn"] == ARN + "pub:1"
    assert lam.publish_version(FunctionName="pub")["Version"] == "1"  # nothing changed since 1
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="CodeSHA256"):
        lam.publish_version(FunctionName="pub", CodeSha256="0" * 64)
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName="pub", RevisionId="00000000-0000-0000-0000-000000000000")
    lam.update_function_configuration(FunctionName="pub", MemorySize=512)
    second = lam.publish_version(FunctionName="pub", CodeSha256=latest["CodeSha256"])
    assert (second["Version"], second["MemorySize"]) == ("2", 512)
    pages = lam.get_paginator("list_versions_by_function").paginate(
        FunctionName="pub", PaginationConfig={"PageSize": 2}
    )
    versions = [v["Version"] for page in pages for v in page["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert lam.get_function(FunctionName="pub", Qualifier="1")["Configuration"]["MemorySize"] == 128
    everything = [
        f for f in lam.list_functions(FunctionVersion="ALL")["Functions"] if f["FunctionName"] == "pub"
    ]
    assert [f["Version"] for f in everything] == ["$LATEST", "1", "2"]


def test_aliases_with_routing(lam: Any, image: str) -> None:
    create_active(lam, "aliased", image)
    lam.publish_version(FunctionName="aliased")
    lam.update_function_configuration(FunctionName="aliased", Timeout=10)
    lam.publish_version(FunctionName="aliased")
    created = lam.create_alias(
        FunctionName="aliased",
        Name="live",
        FunctionVersion="1",
        Description="canary",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert created["AliasArn"] == ARN + "aliased:live"
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(lam.exceptions.ResourceConflictException, match="Alias already exists"):
        lam.create_alias(FunctionName="aliased", Name="live", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_alias(FunctionName="aliased", Name="ghost", FunctionVersion="9")
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="already included"):
        lam.create_alias(
            FunctionName="aliased",
            Name="bad",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    by_alias = lam.get_function_configuration(FunctionName="aliased", Qualifier="live")
    assert (by_alias["Version"], by_alias["FunctionArn"]) == ("1", ARN + "aliased:live")
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName="aliased", Name="live", FunctionVersion="2", RevisionId="stale")
    moved = lam.update_alias(
        FunctionName="aliased",
        Name="live",
        FunctionVersion="2",
        RevisionId=created["RevisionId"],
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    assert moved["FunctionVersion"] == "2"
    assert "RoutingConfig" not in moved
    lam.create_alias(FunctionName="aliased", Name="old", FunctionVersion="1")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="aliased")["Aliases"]] == ["live", "old"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="aliased", FunctionVersion="1")["Aliases"]] == [
        "old"
    ]
    with pytest.raises(lam.exceptions.ResourceConflictException, match=r"\[old\]"):
        lam.delete_function(FunctionName="aliased", Qualifier="1")
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=r"\$LATEST"):
        lam.delete_function(FunctionName="aliased", Qualifier="$LATEST")
    lam.delete_alias(FunctionName="aliased", Name="old")
    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="Alias not found"):
        lam.get_alias(FunctionName="aliased", Name="old")
    lam.delete_function(FunctionName="aliased:1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="aliased", Qualifier="1")


def test_reserved_concurrency_and_account_settings(lam: Any, image: str) -> None:
    create_active(lam, "reserved-a", image)
    create_active(lam, "reserved-b", image)
    before = lam.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    put = lam.put_function_concurrency(FunctionName="reserved-a", ReservedConcurrentExecutions=850)
    assert put["ReservedConcurrentExecutions"] == 850
    assert lam.get_function_concurrency(FunctionName="reserved-a")["ReservedConcurrentExecutions"] == 850
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=r"minimum value of \[100\]"):
        lam.put_function_concurrency(FunctionName="reserved-b", ReservedConcurrentExecutions=51)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 150
    assert settings["AccountUsage"]["FunctionCount"] >= 2
    lam.delete_function_concurrency(FunctionName="reserved-a")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="reserved-a")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_tags(lam: Any, image: str) -> None:
    create_active(lam, "tagged", image, Tags={"a": "1"})
    arn = ARN + "tagged"
    lam.tag_resource(Resource=arn, Tags={"b": "2", "c": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2", "c": "3"}
    lam.untag_resource(Resource=arn, TagKeys=["a", "c"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"b": "2"}
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="aliases and versions"):
        lam.tag_resource(Resource=arn + ":1", Tags={"x": "y"})
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_tags(Resource=ARN + "nobody")


def test_publish_on_create_and_on_code_update(
    lam: Any, server: LambkinServer, image: str, tmp_path: Any
) -> None:
    created = lam.create_function(
        FunctionName="published-early",
        Role=execution_role(server.endpoint),
        PackageType="Image",
        Code={"ImageUri": image},
        Publish=True,
    )
    assert created["Version"] == "1"
    lam.get_waiter("published_version_active").wait(
        FunctionName="published-early", Qualifier="1", WaiterConfig={"Delay": 1}
    )
    other, digest = push(server, tmp_path, "versions-app", "v2", "versions two")
    lam.update_function_code(FunctionName="published-early", ImageUri=other, Publish=True)
    lam.get_waiter("function_updated_v2").wait(FunctionName="published-early", WaiterConfig={"Delay": 1})
    versions = lam.list_versions_by_function(FunctionName="published-early")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[2]["CodeSha256"] == digest.removeprefix("sha256:")
    assert versions[1]["CodeSha256"] != versions[2]["CodeSha256"]
