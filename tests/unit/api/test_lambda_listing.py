"""Listings and GetFunction answer, from their kept JSON texts, the very bytes the model's encoder writes.

Checked for functions in every state and with every optional member, on every page size and marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.parsers import RestJSONParser

from lambkin.api import lambda_api
from lambkin.api import lambda_render as render
from lambkin.functions import policies
from lambkin.functions.changes import ConfigChange, ImageConfig
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.model import VpcChange
from lambkin.functions.names import FunctionRef
from lambkin.functions.repository import MIGRATIONS
from lambkin.network import vpc
from lambkin.protocol import serialize
from lambkin.protocol.model import service_index
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.images import FakeImageResolver

ROLE = "arn:aws:iam::000000000000:role/r"
LAMBDA = service_index("lambda").model
VPCS = vpc.parse(
    {
        "Vpcs": [
            {
                "VpcId": "vpc-a",
                "Subnets": [{"SubnetId": "subnet-a", "CidrBlock": "10.0.1.0/24"}],
                "SecurityGroups": [{"GroupId": "sg-a"}],
            }
        ]
    }
)


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    db = SqliteStore(tmp_path / "test.db")
    db.migrate(MIGRATIONS + policies.MIGRATIONS)
    resolver = FakeImageResolver()
    resolver.tags["reg/app:v1"] = "sha256:" + "1" * 64
    resolver.tags["reg/app:v2"] = "sha256:" + "2" * 64
    yield build_control_plane(
        db,
        "us-east-1",
        "000000000000",
        resolver,
        role_check=lambda role: role == ROLE,
        architecture="x86_64",
        vpcs=VPCS,
    )
    db.close()


async def varied(cp: ControlPlane) -> None:
    """Functions in every state the listing shows, with every optional member set on some and not others."""
    functions, settle = cp.functions, cp.worker.settle
    await functions.create("a-pending", ROLE, "reg/app:v1", ConfigChange())
    await functions.create(
        "b-full",
        ROLE,
        "reg/app:v1",
        ConfigChange(
            description='tout à fait "quoted" \\ ünïcode ✓',
            memory_size=1024,
            timeout=60,
            environment={"GREETING": "héllo", "EMPTY": "", "JSON": '{"a": [1]}'},
            image_config=ImageConfig(("/bin/sh", "-c"), ("echo hi",), "/srv"),
            ephemeral_storage=2048,
            tracing_mode="Active",
            dead_letter_target_arn="arn:aws:sqs:us-east-1:000000000000:dlq",
            kms_key_arn="arn:aws:kms:us-east-1:000000000000:key/k",
            logging={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"},
        ),
        architectures=("x86_64",),
        tags={"team": "a"},
    )
    await settle("b-full", "$LATEST")
    await cp.account.put_concurrency(FunctionRef("b-full"), 5)
    await functions.create(
        "b-vpc", ROLE, "reg/app:v1", ConfigChange(vpc=VpcChange(("subnet-a",), ("sg-a",), True))
    )
    await settle("b-vpc", "$LATEST")
    await functions.create("c-failed", ROLE, "reg/missing:v1", ConfigChange())
    await settle("c-failed", "$LATEST")
    await functions.create("d-published", ROLE, "reg/app:v1", ConfigChange(), publish=True)
    await settle("d-published", "$LATEST")
    await functions.update_configuration(FunctionRef("d-published"), ConfigChange(memory_size=256), None)
    await functions.publish(FunctionRef("d-published"), None, "second", None)
    await functions.update_code(FunctionRef("d-published"), "reg/app:v2")  # InProgress, not settled
    await functions.create("e-update-failed", ROLE, "reg/app:v1", ConfigChange(image_config=ImageConfig()))
    await settle("e-update-failed", "$LATEST")
    await functions.update_code(FunctionRef("e-update-failed"), "reg/gone:v9")
    await settle("e-update-failed", "$LATEST")
    await cp.aliases.create(FunctionRef("d-published"), "live", "1", "", {})


def encoded(operation: str, output: dict[str, Any]) -> bytes:
    return serialize.rest_json(LAMBDA.operation_model(operation), output).body


def boto3_reads(operation: str, body: bytes) -> dict[str, Any]:
    shape = LAMBDA.operation_model(operation).output_shape
    parsed: dict[str, Any] = RestJSONParser().parse({"status_code": 200, "headers": {}, "body": body}, shape)
    return parsed


async def listed(cp: ControlPlane, all_versions: bool, max_items: int | None) -> list[dict[str, Any]]:
    """Every page of ListFunctions as boto3 reads it, each checked against the model encoder's rendering of
    the same page's versions."""
    params: dict[str, Any] = {"FunctionVersion": "ALL"} if all_versions else {}
    if max_items is not None:
        params["MaxItems"] = max_items
    shown, marker = [], None
    while True:
        given = {**params, "Marker": marker} if marker else params
        answer = encoded("ListFunctions", await lambda_api.list_functions(cp, given))
        page = await cp.functions.list(marker, max_items, all_versions)
        generic: dict[str, Any] = {"Functions": [render.configuration(v) for v in page.items]}
        if page.next_marker:
            generic["NextMarker"] = page.next_marker
        assert answer == encoded("ListFunctions", generic), given
        read = boto3_reads("ListFunctions", answer)
        shown += read["Functions"]
        marker = read.get("NextMarker")
        if not marker:
            return shown


async def test_list_functions_answers_what_the_model_encoder_writes(cp: ControlPlane) -> None:
    await varied(cp)
    for all_versions in (False, True):
        whole = await listed(cp, all_versions, None)
        for max_items in (1, 2, 3, 50):
            assert await listed(cp, all_versions, max_items) == whole
    latest = {f["FunctionName"]: f for f in await listed(cp, False, None)}
    assert {name: (f["State"], f["LastUpdateStatus"]) for name, f in latest.items()} == {
        "a-pending": ("Pending", "InProgress"),
        "b-full": ("Active", "Successful"),
        "b-vpc": ("Active", "Successful"),
        "c-failed": ("Failed", "Failed"),
        "d-published": ("Active", "InProgress"),
        "e-update-failed": ("Active", "Failed"),
    }
    assert latest["b-full"]["Environment"]["Variables"]["GREETING"] == "héllo"
    assert latest["b-vpc"]["VpcConfig"] == {
        "SubnetIds": ["subnet-a"],
        "SecurityGroupIds": ["sg-a"],
        "VpcId": "vpc-a",
        "Ipv6AllowedForDualStack": True,
    }
    assert all("Tags" not in f and "Concurrency" not in f for f in latest.values())
    every = [(f["FunctionName"], f["Version"]) for f in await listed(cp, True, 2)]
    assert every == [
        ("a-pending", "$LATEST"),
        ("b-full", "$LATEST"),
        ("b-vpc", "$LATEST"),
        ("c-failed", "$LATEST"),
        ("d-published", "$LATEST"),
        ("d-published", "1"),
        ("d-published", "2"),
        ("e-update-failed", "$LATEST"),
    ]


async def test_list_versions_answers_what_the_model_encoder_writes(cp: ControlPlane) -> None:
    await varied(cp)
    marker = None
    while True:
        params = {"FunctionName": "d-published", "MaxItems": 2, **({"Marker": marker} if marker else {})}
        answer = encoded("ListVersionsByFunction", await lambda_api.list_versions_by_function(cp, params))
        page = await cp.functions.list_versions(FunctionRef("d-published"), marker, 2)
        generic: dict[str, Any] = {"Versions": [render.configuration(v) for v in page.items]}
        if page.next_marker:
            generic["NextMarker"] = page.next_marker
        assert answer == encoded("ListVersionsByFunction", generic)
        marker = page.next_marker
        if not marker:
            break


async def test_get_function_answers_what_the_model_encoder_writes(cp: ControlPlane) -> None:
    await varied(cp)
    asked = [(name, None) for name in ("a-pending", "b-full", "c-failed", "d-published", "e-update-failed")]
    asked += [("d-published", "1"), ("d-published", "$LATEST"), ("d-published", "live")]
    for name, qualifier in asked:
        params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        answer = await lambda_api.get_function(cp, params)
        version, alias, _ = await cp.functions.get(FunctionRef(name, qualifier))
        generic = {
            **answer,
            "Configuration": render.configuration(version, alias.alias_arn if alias else None),
        }
        assert encoded("GetFunction", answer) == encoded("GetFunction", generic), params
    by_alias = boto3_reads("GetFunction", encoded("GetFunction", await lambda_api.get_function(cp, params)))
    assert by_alias["Configuration"]["FunctionArn"].endswith(":d-published:live")
