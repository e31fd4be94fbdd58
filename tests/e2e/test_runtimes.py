"""Managed runtimes end to end: `lambkin runtimes build` puts a runtime's image into a server's catalog,
and code at /var/task runs on it in runc, through the runtime interface client or a custom bootstrap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lambda_support import create_active
from tests.e2e.runtime_support import RUNTIME_BUILDS_TIMEOUT_S, build_runtime
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images.buildah import Buildah

pytestmark = [pytest.mark.runc, pytest.mark.timeout(RUNTIME_BUILDS_TIMEOUT_S)]

CODE = Path(__file__).with_name("runtime_code")
CREDS = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Buildah:
    return Buildah(root=tmp_path_factory.mktemp("buildah"))


def function_image(server: LambkinServer, buildah: Buildah, runtime: str, code: Path, tag: str) -> str:
    """The runtime's image, pulled from the server's own registry, with `code` at /var/task, pushed back."""
    digest = build_runtime(server, runtime)
    source = f"docker://{server.registry}/lambkin-runtimes/{runtime}@{digest}"
    container = buildah("from", "--quiet", "--tls-verify=false", "--creds", CREDS, source).splitlines()[-1]
    buildah("copy", "--quiet", container, f"{code}/.", "/var/task/")
    image = f"localhost/runtime-fn/{tag}"
    buildah.commit(container, image)
    uri = f"{server.registry}/runtime-fn:{tag}"
    buildah("push", "--quiet", "--tls-verify=false", "--creds", CREDS, image, f"docker://{uri}")
    return uri


def invoke(lam: Any, name: str, event: object) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_python_handler_runs_on_the_python311_runtime(
    lam: Any, server: LambkinServer, buildah: Buildah
) -> None:
    uri = function_image(server, buildah, "python3.11", CODE / "python", "py311")
    create_active(lam, "py311", uri, ImageConfig={"Command": ["app.handler"]})
    response, body = invoke(lam, "py311", {"hello": "runtime"})
    assert (response["StatusCode"], response.get("FunctionError")) == (200, None), body
    assert body["event"] == {"hello": "runtime"}
    assert body["python"] == "3.11"
    assert body["cwd"] == "/var/task"
    assert body["path"][:3] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"]
    assert body["env"]["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert body["env"]["LAMBDA_TASK_ROOT"] == "/var/task"
    assert body["env"]["LAMBDA_RUNTIME_DIR"] == "/var/runtime"

    create_active(lam, "py311-missing", uri, ImageConfig={"Command": ["app.nothing"]})
    response, body = invoke(lam, "py311-missing", {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    create_active(lam, "py311-noimport", uri, ImageConfig={"Command": ["nomodule.handler"]})
    response, body = invoke(lam, "py311-noimport", {})
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'nomodule'" in body["errorMessage"]


def test_shell_bootstrap_runs_on_provided_al2023(lam: Any, server: LambkinServer, buildah: Buildah) -> None:
    uri = function_image(server, buildah, "provided.al2023", CODE / "provided", "al2023")
    create_active(lam, "al2023", uri)
    response, body = invoke(lam, "al2023", {"n": 1})
    assert (response["StatusCode"], response.get("FunctionError")) == (200, None), body
    assert body == {
        "event": {"n": 1},
        "task_root": "/var/task",
        "runtime_dir": "/var/runtime",
        "cwd": "/var/task",
    }
