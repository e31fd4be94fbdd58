"""Lambda layers end to end with boto3: publish, read, list, permissions, delete; a function imports a layer's
Python package from /opt; layers merge in order; image functions and hostile layers are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import execution_role
from tests.e2e.zip_support import code_sha256, standin_runtime, zip_of
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

RUNTIME = "python3.13"
USES_LAYER = """
import greeting
import os


def handler(event, context):
    return {"greeting": greeting.hello(), "which": open("/opt/which.txt").read(), "opt": sorted(os.listdir("/opt"))}
"""


@pytest.fixture(scope="module")
def role(server: LambkinServer, test_images: BuiltImages) -> str:
    standin_runtime(server, test_images, RUNTIME)
    return execution_role(server.endpoint)


def publish(lam: Any, name: str, files: dict[str, str | bytes], **extra: Any) -> dict[str, Any]:
    published: dict[str, Any] = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": zip_of(files)}, **extra
    )
    return published


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_publish_get_and_list_a_layer(lam: Any, role: str) -> None:
    files: dict[str, str | bytes] = {"python/greeting.py": "def hello():\n    return 'hi'\n"}
    first = publish(
        lam,
        "greetings",
        files,
        Description="a greeting",
        CompatibleRuntimes=[RUNTIME],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    second = publish(lam, "greetings", files, CompatibleRuntimes=["nodejs20.x"])

    assert first["Version"] == 1 and second["Version"] == 2
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["Content"]["CodeSha256"] == code_sha256(zip_of(files))
    assert (first["LicenseInfo"], first["CompatibleRuntimes"]) == ("MIT", [RUNTIME])
    got = lam.get_layer_version(LayerName="greetings", VersionNumber=1)
    assert (got["Description"], got["CompatibleArchitectures"]) == ("a greeting", ["x86_64"])
    by_arn = lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])
    assert by_arn["Version"] == 1
    versions = lam.list_layer_versions(LayerName="greetings")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    layers = lam.list_layers(CompatibleRuntime=RUNTIME)["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [("greetings", 1)]


def test_a_function_imports_a_package_from_its_layers_merged_in_order(lam: Any, role: str) -> None:
    library = publish(
        lam,
        "library",
        {"python/greeting.py": "def hello():\n    return 'from a layer'\n", "which.txt": "first"},
    )
    override = publish(lam, "override", {"which.txt": "second"})
    created = lam.create_function(
        FunctionName="layered",
        Role=role,
        Runtime=RUNTIME,
        Handler="uses.handler",
        Code={"ZipFile": zip_of({"uses.py": USES_LAYER})},
        Layers=[library["LayerVersionArn"], override["LayerVersionArn"]],
    )
    assert [layer["Arn"] for layer in created["Layers"]] == [
        library["LayerVersionArn"],
        override["LayerVersionArn"],
    ]
    lam.get_waiter("function_active_v2").wait(
        FunctionName="layered", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )

    response = lam.invoke(FunctionName="layered", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body["greeting"] == "from a layer"
    assert body["which"] == "second"
    assert {"python", "which.txt"} <= set(body["opt"])


def test_a_missing_layer_version_is_refused(lam: Any, role: str) -> None:
    missing = (
        lam.publish_layer_version(LayerName="gone", Content={"ZipFile": zip_of({"a.txt": "a"})})["LayerArn"]
        + ":9"
    )
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            FunctionName="no-layer",
            Role=role,
            Runtime=RUNTIME,
            Handler="a.b",
            Code={"ZipFile": zip_of({"a.py": ""})},
            Layers=[missing],
        )
    assert error_of(raised) == ("InvalidParameterValueException", f"Layer version {missing} does not exist.")


def test_image_functions_refuse_layers(lam: Any, role: str) -> None:
    arn = publish(lam, "for-image", {"a.txt": "a"})["LayerVersionArn"]
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            FunctionName="image-with-layer",
            Role=role,
            PackageType="Image",
            Code={"ImageUri": "127.0.0.1:1/app:v1"},
            Layers=[arn],
        )
    assert error_of(raised) == (
        "InvalidParameterValueException",
        "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.",
    )


def test_a_hostile_layer_is_refused(lam: Any, role: str) -> None:
    with pytest.raises(ClientError) as raised:
        publish(lam, "hostile", {"../../escape": "x"})
    code, message = error_of(raised)
    assert code == "InvalidParameterValueException"
    assert message.startswith("Could not unzip uploaded file.")


def test_layer_version_permissions_and_delete(lam: Any, role: str) -> None:
    publish(lam, "shared", {"a.txt": "a"})
    added = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert json.loads(added["Statement"])["Principal"] == "*"
    policy = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["everyone"]
    assert policy["RevisionId"] == added["RevisionId"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.add_layer_version_permission(
            LayerName="shared",
            VersionNumber=1,
            StatementId="everyone",
            Action="lambda:GetLayerVersion",
            Principal="*",
        )
    lam.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="everyone")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)

    lam.delete_layer_version(LayerName="shared", VersionNumber=1)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        lam.get_layer_version(LayerName="shared", VersionNumber=1)
    assert error_of(raised)[1] == "The resource you requested does not exist."
    assert publish(lam, "shared", {"a.txt": "b"})["Version"] == 2


def test_update_configuration_changes_the_handler_and_layers_of_the_same_package(lam: Any, role: str) -> None:
    package = zip_of(
        {
            "one.py": "import os\ndef handler(e, c):\n    return ['one', sorted(os.listdir('/opt'))]\n",
            "two.py": "import os\ndef handler(e, c):\n    return ['two', sorted(os.listdir('/opt'))]\n",
        }
    )
    extra = publish(lam, "extra-files", {"extra.txt": "extra"})
    lam.create_function(
        FunctionName="reconfigured",
        Role=role,
        Runtime=RUNTIME,
        Handler="one.handler",
        Code={"ZipFile": package},
    )
    waiter = {"Delay": 0.2, "MaxAttempts": 300}
    lam.get_waiter("function_active_v2").wait(FunctionName="reconfigured", WaiterConfig=waiter)
    first = json.loads(lam.invoke(FunctionName="reconfigured", Payload=b"{}")["Payload"].read())
    assert first == ["one", []], first

    updated = lam.update_function_configuration(
        FunctionName="reconfigured", Handler="two.handler", Layers=[extra["LayerVersionArn"]], MemorySize=256
    )
    assert (updated["Handler"], updated["MemorySize"]) == ("two.handler", 256)
    assert updated["CodeSha256"] == code_sha256(package)
    lam.get_waiter("function_updated_v2").wait(FunctionName="reconfigured", WaiterConfig=waiter)

    name, opt = json.loads(lam.invoke(FunctionName="reconfigured", Payload=b"{}")["Payload"].read())
    assert name == "two"
    assert "extra.txt" in opt


def test_layer_operations_and_a_functions_layers_are_authorized(
    server: LambkinServer, lam: Any, role: str
) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="no-layers")
    only_create = {"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "*"}
    iam.put_user_policy(
        UserName="no-layers",
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [only_create]}),
    )
    key = iam.create_access_key(UserName="no-layers")["AccessKey"]
    limited = server.client("lambda", (key["AccessKeyId"], key["SecretAccessKey"]))
    arn = publish(lam, "guarded", {"a.txt": "a"})["LayerVersionArn"]

    with pytest.raises(ClientError) as publishing:
        publish(limited, "guarded", {"a.txt": "b"})
    with pytest.raises(ClientError) as reading:
        limited.get_layer_version_by_arn(Arn=arn)
    with pytest.raises(ClientError) as creating:
        limited.create_function(
            FunctionName="guarded-fn",
            Role=role,
            Runtime=RUNTIME,
            Handler="a.b",
            Code={"ZipFile": zip_of({"a.py": ""})},
            Layers=[arn],
        )

    for raised, action in (
        (publishing, "PublishLayerVersion"),
        (reading, "GetLayerVersion"),
        (creating, "GetLayerVersion"),
    ):
        code, message = error_of(raised)
        assert code == "AccessDeniedException"
        assert f"lambda:{action}" in message


def test_a_layer_declared_for_other_runtimes_and_architectures_is_still_accepted(lam: Any, role: str) -> None:
    """As in Lambda, CompatibleRuntimes and CompatibleArchitectures are what ListLayers filters on, not a
    check at CreateFunction or UpdateFunctionConfiguration: Lambda's guide asks the user to make sure a layer
    suits the function's runtime and architecture, and takes a layer declared for others."""
    elsewhere = publish(
        lam,
        "node-arm-only",
        {"python/elsewhere.py": "WHERE = 'declared for nodejs20.x on arm64'\n"},
        CompatibleRuntimes=["nodejs20.x"],
        CompatibleArchitectures=["arm64"],
    )
    handler = "import elsewhere\n\ndef handler(event, context):\n    return elsewhere.WHERE\n"
    created = lam.create_function(
        FunctionName="uses-foreign-layer",
        Role=role,
        Runtime=RUNTIME,
        Handler="uses_foreign.handler",
        Architectures=["x86_64"],
        Code={"ZipFile": zip_of({"uses_foreign.py": handler})},
        Layers=[elsewhere["LayerVersionArn"]],
    )
    assert [layer["Arn"] for layer in created["Layers"]] == [elsewhere["LayerVersionArn"]]
    waiter = {"Delay": 0.2, "MaxAttempts": 300}
    lam.get_waiter("function_active_v2").wait(FunctionName="uses-foreign-layer", WaiterConfig=waiter)

    response = lam.invoke(FunctionName="uses-foreign-layer", Payload=b"{}")
    assert json.loads(response["Payload"].read()) == "declared for nodejs20.x on arm64"
    updated = lam.update_function_configuration(
        FunctionName="uses-foreign-layer", Layers=[elsewhere["LayerVersionArn"]], Description="again"
    )
    assert [layer["Arn"] for layer in updated["Layers"]] == [elsewhere["LayerVersionArn"]]
    listed = lam.list_layers(CompatibleRuntime=RUNTIME, CompatibleArchitecture="x86_64")["Layers"]
    assert "node-arm-only" not in [layer["LayerName"] for layer in listed]
