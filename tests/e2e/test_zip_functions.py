"""Zip functions on a managed runtime, end to end with boto3 and the AWS CLI: create and invoke, download the
package, update the code, versions keep theirs, and hostile or oversize packages refused."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import parsed, run_aws
from tests.e2e.lambda_support import execution_role
from tests.e2e.zip_support import code_sha256, handler_zip, standin_runtime, zip_of
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

RUNTIME = "python3.13"


@pytest.fixture(scope="module")
def role(server: LambkinServer, test_images: BuiltImages) -> str:
    standin_runtime(server, test_images, RUNTIME)
    return execution_role(server.endpoint)


def create_zip(lam: Any, role: str, name: str, package: bytes, **extra: Any) -> dict[str, Any]:
    created: dict[str, Any] = lam.create_function(
        FunctionName=name,
        Role=role,
        Runtime=RUNTIME,
        Handler="zipfn.handler",
        Code={"ZipFile": package},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return created


def invoke(lam: Any, name: str, event: object, qualifier: str | None = None) -> Any:
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def refused(lam: Any, **create: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            Role=execution_role(lam.meta.endpoint_url), Runtime=RUNTIME, Handler="a.b", **create
        )
    error = raised.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_a_zip_function_runs_its_code_read_only_at_var_task(lam: Any, role: str) -> None:
    package = handler_zip("first")
    created = create_zip(lam, role, "zip-echo", package)

    assert (created["PackageType"], created["Runtime"], created["Handler"]) == (
        "Zip",
        RUNTIME,
        "zipfn.handler",
    )
    assert (created["CodeSha256"], created["CodeSize"]) == (code_sha256(package), len(package))
    body = invoke(lam, "zip-echo", {"hello": "zip"})
    assert body["marker"] == "first"
    assert body["event"] == {"hello": "zip"}
    assert body["handler"] == "zipfn.handler"
    assert "zipfn.py" in body["task"]
    configuration = lam.get_function_configuration(FunctionName="zip-echo")
    assert configuration["CodeSha256"] == code_sha256(package)


def test_get_function_gives_a_signed_url_that_downloads_the_package(lam: Any, role: str) -> None:
    package = handler_zip("download")
    create_zip(lam, role, "zip-download", package)

    code = lam.get_function(FunctionName="zip-download")["Code"]
    assert code["RepositoryType"] == "S3"
    with urllib.request.urlopen(code["Location"], timeout=30) as response:
        assert response.read() == package
    tampered = code["Location"].replace("Signature=", "Signature=0")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(tampered, timeout=30)
    denied.value.close()
    assert denied.value.code == 403


def test_update_code_then_publish_keeps_the_old_versions_code(lam: Any, role: str) -> None:
    old = handler_zip("old")
    create_zip(lam, role, "zip-versions", old, Publish=True)

    new = handler_zip("new")
    updated = lam.update_function_code(FunctionName="zip-versions", ZipFile=new)
    assert updated["CodeSha256"] == code_sha256(new)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="zip-versions", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    published = lam.publish_version(FunctionName="zip-versions")

    assert published["Version"] == "2"
    assert invoke(lam, "zip-versions", {}, "1")["marker"] == "old"
    assert invoke(lam, "zip-versions", {}, "2")["marker"] == "new"
    assert invoke(lam, "zip-versions", {})["marker"] == "new"
    first = lam.get_function_configuration(FunctionName="zip-versions", Qualifier="1")
    assert first["CodeSha256"] == code_sha256(old)


def test_the_aws_cli_creates_a_zip_function_from_a_file(
    server: LambkinServer, lam: Any, role: str, tmp_path: Path
) -> None:
    package = tmp_path / "fn.zip"
    package.write_bytes(handler_zip("cli"))
    created = parsed(
        run_aws(
            server,
            "lambda",
            "create-function",
            "--function-name",
            "zip-cli",
            "--runtime",
            RUNTIME,
            "--handler",
            "zipfn.handler",
            "--role",
            role,
            "--zip-file",
            f"fileb://{package}",
        )
    )
    assert created["CodeSha256"] == code_sha256(package.read_bytes())
    lam.get_waiter("function_active_v2").wait(
        FunctionName="zip-cli", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    assert invoke(lam, "zip-cli", {})["marker"] == "cli"


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("escape", zip_of({"../../etc/cron.d/evil": "x"})),
        ("absolute", zip_of({"/etc/passwd": "x"})),
        ("garbage", b"PK\x03\x04 but not a zip at all"),
    ],
)
def test_hostile_packages_are_refused(lam: Any, role: str, name: str, package: bytes) -> None:
    code, message, status = refused(lam, FunctionName=f"zip-{name}", Code={"ZipFile": package})

    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"zip-{name}")


def test_a_package_unzipping_past_250_mb_is_refused(lam: Any, role: str) -> None:
    bomb = zip_of({"zeros": bytes(262_144_000)})

    assert refused(lam, FunctionName="zip-bomb", Code={"ZipFile": bomb}) == (
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
        400,
    )


def test_a_package_past_50_mb_zipped_is_refused(lam: Any, role: str) -> None:
    code, message, status = refused(lam, FunctionName="zip-big", Code={"ZipFile": os.urandom(52_428_801)})

    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert "smaller than" in message


def test_s3_sources_are_refused_clearly(lam: Any, role: str) -> None:
    code, message, _ = refused(lam, FunctionName="zip-s3", Code={"S3Bucket": "bucket", "S3Key": "fn.zip"})

    assert code == "InvalidParameterValueException"
    assert "S3" in message and "ZipFile" in message


def test_an_unknown_runtime_is_refused_naming_the_ones_the_server_has(lam: Any, role: str) -> None:
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            FunctionName="zip-nodejs",
            Role=role,
            Runtime="nodejs20.x",
            Handler="index.handler",
            Code={"ZipFile": handler_zip("x")},
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert RUNTIME in raised.value.response["Error"]["Message"]
