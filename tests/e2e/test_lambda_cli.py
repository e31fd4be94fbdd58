"""The AWS CLI and `lambkin functions` / `lambkin invoke` against a `lambkin server` subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import cli_environment, run_aws
from tests.e2e.lambda_support import ROLE, execution_role, push
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages


def run(server: LambkinServer, *args: str, tool: str = "aws") -> subprocess.CompletedProcess[str]:
    if tool == "aws":
        return run_aws(server, "lambda", *args)
    env = {
        **cli_environment(),
        "LAMBKIN_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "LAMBKIN_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    command = [sys.executable, "-m", "lambkin", *args, "--endpoint-url", server.endpoint]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


@pytest.fixture(scope="module", autouse=True)
def role(server: LambkinServer) -> str:
    """ROLE, created before any create-function (Lambda refuses a role it cannot assume)."""
    return execution_role(server.endpoint)


@pytest.fixture(scope="module")
def image(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push(server, tmp_path_factory.mktemp("images"), "cli-app", "v1", "cli")[0]


def test_aws_cli_drives_the_control_plane(server: LambkinServer, image: str) -> None:
    created = ok(
        run(
            server,
            "create-function",
            "--function-name",
            "cli-fn",
            "--package-type",
            "Image",
            "--code",
            f"ImageUri={image}",
            "--role",
            ROLE,
            "--memory-size",
            "512",
        )
    )
    assert (created["State"], created["MemorySize"]) == ("Pending", 512)
    ok(run(server, "wait", "function-active-v2", "--function-name", "cli-fn"))
    found = ok(run(server, "get-function", "--function-name", "cli-fn"))
    assert found["Configuration"]["State"] == "Active"
    assert found["Code"]["ImageUri"] == image
    updated = ok(run(server, "update-function-configuration", "--function-name", "cli-fn", "--timeout", "42"))
    assert updated["Timeout"] == 42
    ok(run(server, "wait", "function-updated-v2", "--function-name", "cli-fn"))
    version = ok(run(server, "publish-version", "--function-name", "cli-fn"))
    assert version["Version"] == "1"
    alias = ok(
        run(server, "create-alias", "--function-name", "cli-fn", "--name", "prod", "--function-version", "1")
    )
    assert alias["AliasArn"].endswith(":function:cli-fn:prod")
    listed = ok(run(server, "list-functions", "--page-size", "1"))
    assert "cli-fn" in [f["FunctionName"] for f in listed["Functions"]]


def test_aws_cli_prints_aws_errors(server: LambkinServer, tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as zipped_code:
        zipped_code.writestr("a.py", "def b(event, context): return 1\n")
    result = run(server, "get-function", "--function-name", "no-such-fn")
    assert result.returncode != 0
    assert (
        "An error occurred (ResourceNotFoundException) when calling the GetFunction operation"
        in result.stderr
    )
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-fn" in result.stderr
    zipped = run(
        server,
        "create-function",
        "--function-name",
        "zipped",
        "--runtime",
        "python3.12",
        "--handler",
        "a.b",
        "--role",
        ROLE,
        "--zip-file",
        f"fileb://{archive}",
    )
    assert zipped.returncode != 0
    assert "InvalidParameterValueException" in zipped.stderr
    assert "Value python3.12 at 'runtime' failed to satisfy constraint" in zipped.stderr  # not built here


def test_lambkin_functions_list_and_show(server: LambkinServer, image: str) -> None:
    ok(
        run(
            server,
            "create-function",
            "--function-name",
            "shown",
            "--package-type",
            "Image",
            "--code",
            f"ImageUri={image}",
            "--role",
            ROLE,
        )
    )
    ok(run(server, "wait", "function-active-v2", "--function-name", "shown"))
    table = ok(run(server, "functions", "list", tool="lambkin"))
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["NAME", "VERSION", "STATE"]
    assert any(row.split()[:3] == ["shown", "$LATEST", "Active"] for row in rows)
    listed = ok(run(server, "functions", "list", "--json", tool="lambkin"))
    assert "shown" in [f["FunctionName"] for f in listed]
    shown = ok(run(server, "functions", "show", "shown", tool="lambkin"))
    assert "State" in shown and "Active" in shown and image in shown
    as_json = ok(run(server, "functions", "show", "shown", "--json", tool="lambkin"))
    assert as_json["Configuration"]["FunctionName"] == "shown"
    missing = run(server, "functions", "show", "absent", tool="lambkin")
    assert missing.returncode == 1
    assert "ResourceNotFoundException: Function not found" in missing.stderr


def test_lambkin_invoke_reports_api_errors(server: LambkinServer) -> None:
    missing = run(server, "invoke", "absent", "--payload", "{}", tool="lambkin")
    assert missing.returncode == 1
    assert "ResourceNotFoundException" in missing.stderr


@pytest.mark.runc
def test_lambkin_invoke_runs_a_real_function(server: LambkinServer, test_images: BuiltImages) -> None:
    uri = test_images.push("python-echo", server.registry, tag="cli")
    ok(
        run(
            server,
            "create-function",
            "--function-name",
            "echo-cli",
            "--package-type",
            "Image",
            "--code",
            f"ImageUri={uri}",
            "--role",
            ROLE,
        )
    )
    ok(run(server, "wait", "function-active-v2", "--function-name", "echo-cli"))
    echoed = run(server, "invoke", "echo-cli", "--payload", '{"hello": "world"}', "--logs", tool="lambkin")
    assert echoed.returncode == 0, echoed.stderr
    assert json.loads(echoed.stdout) == {"hello": "world"}
    assert "REPORT RequestId" in echoed.stderr
    summary = ok(run(server, "invoke", "echo-cli", "--payload", "[1, 2]", "--json", tool="lambkin"))
    assert (summary["StatusCode"], summary["ExecutedVersion"], json.loads(summary["Payload"])) == (
        200,
        "$LATEST",
        [1, 2],
    )


def test_lambkin_cli_reads_generated_credentials_from_the_data_dir(tmp_path: Path) -> None:
    generated = LambkinServer(
        tmp_path / "data", env={"LAMBKIN_ACCESS_KEY_ID": "", "LAMBKIN_SECRET_ACCESS_KEY": ""}
    )
    generated.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMBKIN_")}
        command = [sys.executable, "-m", "lambkin", "functions", "list", "--json"]
        command += ["--endpoint-url", generated.endpoint, "--data-dir", str(tmp_path / "data")]
        listed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
        command[-1] = str(tmp_path / "elsewhere")
        refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert refused.returncode != 0
        assert "no credentials" in refused.stderr
    finally:
        generated.stop()
