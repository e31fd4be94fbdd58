"""Zip functions on the managed runtimes lambkin really builds (`lambkin runtimes build`), end to end with
boto3: a Python package on python3.11 and python3.13 (sync, async to a destination, through an SQS
mapping; a layer's package imported; the runtime's own error types), a shell `bootstrap` on
provided.al2023 and provided.al2, and versions keeping their code after UpdateFunctionCode."""

from __future__ import annotations

import base64
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import parsed, run_aws
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling, execution_role
from tests.e2e.runtime_support import REPO, RUNTIME_BUILDS_TIMEOUT_S, build_runtime
from tests.e2e.zip_support import code_sha256, zip_of
from tests.harness import LambkinServer, eventually

pytestmark = [pytest.mark.runc, pytest.mark.timeout(RUNTIME_BUILDS_TIMEOUT_S)]

PYTHONS = ["python3.11", "python3.13"]
CUSTOM = "provided.al2023"
CUSTOMS = ["provided.al2023", "provided.al2"]

# The function's code: what the runtime gave it, and whether /var/task takes a write.
APP = """
import json
import os
import sys

MARKER = {marker!r}


def handler(event, context):
    try:
        open("/var/task/written", "w").close()
        task_writable = True
    except OSError:
        task_writable = False
    names = ("AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER")
    return {{
        "marker": MARKER,
        "event": event,
        "python": "{{}}.{{}}".format(*sys.version_info[:2]),
        "path": sys.path[:3],
        "cwd": os.getcwd(),
        "env": {{name: os.environ.get(name) for name in names}},
        "task_writable": task_writable,
        "request_id": context.aws_request_id,
    }}


def consume(event, context):
    print("EVENT " + json.dumps(event))
    return {{}}
"""
IMPORTS_MISSING = "import not_installed_anywhere\n\ndef handler(event, context):\n    return {}\n"
SYNTAX_ERROR = "def handler(event, context)\n    return {}\n"
USES_LAYER = """
import shared_greeting
import versioned_greeting


def handler(event, context):
    return {"shared": shared_greeting.hello(), "versioned": versioned_greeting.hello()}
"""
# A custom runtime in shell, as Lambda's tutorial writes one: `#!/bin/sh` with bash's `set -o pipefail` and
# `source` (Amazon Linux's /bin/sh is bash, and so is lambkin's), and curl (which Amazon Linux 2023's
# minimal image has) against the Runtime API, the event echoed inside a JSON object.
BOOTSTRAP = """#!/bin/sh
set -euo pipefail
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
    headers="$(mktemp)"
    event="$(curl -sS -D "$headers" "$api/next")"
    id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\\r' | cut -d' ' -f2)"
    rm -f "$headers"
    answer="$(source "$LAMBDA_TASK_ROOT/$(echo "$_HANDLER" | cut -d. -f1).sh")"
    curl -sS -X POST "$api/$id/response" \\
        -d "{\\"event\\":$event,\\"answer\\":\\"$answer\\",\\"handler\\":\\"$_HANDLER\\",\\"cwd\\":\\"$(pwd)\\"}" >/dev/null
done
"""


@pytest.fixture(scope="module")
def role(server: LambkinServer) -> str:
    """A role that may deliver async results and be triggered by queues."""
    allow_destinations(server.endpoint)
    allow_queue_polling(server.endpoint)
    return execution_role(server.endpoint)


@pytest.fixture(scope="module")
def built(server: LambkinServer) -> Callable[[str], None]:
    """Builds a runtime into the server the first time a test asks for it (from the build cache after the
    first time ever)."""
    done: set[str] = set()

    def build(runtime: str) -> None:
        if runtime not in done:
            build_runtime(server, runtime)
            done.add(runtime)

    return build


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def app_zip(marker: str, **more: str | bytes) -> bytes:
    return zip_of({"app.py": APP.format(marker=marker), **more})


def executable_zip(files: dict[str, str], executables: dict[str, str]) -> bytes:
    """A package whose `executables` keep mode 0755, as `zip` on a Unix machine writes them."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, content in executables.items():
            entry = zipfile.ZipInfo(name)
            entry.external_attr = 0o100755 << 16
            archive.writestr(entry, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def create(lam: Any, role: str, name: str, runtime: str, handler: str, package: bytes, **extra: Any) -> Any:
    created = lam.create_function(
        FunctionName=name, Role=role, Runtime=runtime, Handler=handler, Code={"ZipFile": package}, **extra
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    return created


def invoke(lam: Any, name: str, event: object, qualifier: str | None = None) -> tuple[str | None, Any]:
    """The invoke's FunctionError (None when the handler returned) and its payload."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    assert response["StatusCode"] == 200
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def short(runtime: str) -> str:
    return runtime.replace(".", "")


@pytest.mark.parametrize("runtime", PYTHONS)
def test_a_python_package_answers_a_sync_invoke_on_the_real_runtime(
    lam: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    name = f"sync-{short(runtime)}"
    package = app_zip("sync")
    created = create(lam, role, name, runtime, "app.handler", package)
    assert (created["PackageType"], created["Runtime"], created["CodeSha256"]) == (
        "Zip",
        runtime,
        code_sha256(package),
    )

    error, body = invoke(lam, name, {"hello": runtime})

    assert error is None, body
    version = runtime.removeprefix("python")
    assert (body["marker"], body["event"], body["python"], body["cwd"]) == (
        "sync",
        {"hello": runtime},
        version,
        "/var/task",
    )
    assert body["path"] == ["/var/task", f"/opt/python/lib/python{version}/site-packages", "/opt/python"]
    assert body["env"] == {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "app.handler",
    }
    assert body["task_writable"] is False


@pytest.mark.parametrize("runtime", PYTHONS)
def test_an_async_invoke_of_a_python_package_reaches_its_success_destination(
    lam: Any, sqs: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    name = f"async-{short(runtime)}"
    url, arn = queue(sqs, f"{name}-ok")
    create(lam, role, name, runtime, "app.handler", app_zip("async"))
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )

    sent = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')
    assert sent["StatusCode"] == 202

    got: list[dict[str, Any]] = []
    eventually(
        lambda: bool(
            got.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])) or got
        ),
        "a record at the success destination",
    )
    record = json.loads(got[0]["Body"])
    assert record["requestContext"]["requestId"] == sent["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"async": True}
    assert (record["responsePayload"]["marker"], record["responsePayload"]["python"]) == (
        "async",
        runtime.removeprefix("python"),
    )


def logged_events(server: LambkinServer, function: str) -> list[dict[str, Any]]:
    """The events `app.consume` printed, from the function's log group."""
    logs = server.client("logs")
    try:
        page = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern="EVENT")
    except logs.exceptions.ResourceNotFoundException:
        return []  # no invocation yet
    return [
        json.loads(line["message"][len("EVENT ") :])
        for line in page["events"]
        if line["message"].startswith("EVENT ")
    ]


@pytest.mark.parametrize("runtime", PYTHONS)
def test_a_python_package_consumes_a_queue_through_a_mapping(
    server: LambkinServer, lam: Any, sqs: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    name = f"consumer-{short(runtime)}"
    url, arn = queue(sqs, name)
    create(lam, role, name, runtime, "app.consume", app_zip("consumer"))
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)

    bodies = [f"order {i}" for i in range(5)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def consumed() -> list[str]:
        return sorted(r["body"] for event in logged_events(server, name) for r in event["Records"])

    eventually(lambda: consumed() == bodies, "every message handed to the function")
    attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    eventually(
        lambda: (
            set(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)["Attributes"].values())
            == {"0"}
        ),
        "the consumed messages deleted",
    )
    (record, *_) = logged_events(server, name)[0]["Records"]
    assert (record["eventSource"], record["eventSourceARN"]) == ("aws:sqs", arn)


@pytest.mark.parametrize("runtime", PYTHONS)
def test_a_layers_python_packages_are_imported_on_the_real_runtime(
    lam: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    version = runtime.removeprefix("python")
    layer = lam.publish_layer_version(
        LayerName=f"greetings-{short(runtime)}",
        Content={
            "ZipFile": zip_of(
                {
                    "python/shared_greeting/__init__.py": "def hello():\n    return 'from /opt/python'\n",
                    f"python/lib/python{version}/site-packages/versioned_greeting/__init__.py": (
                        f"def hello():\n    return 'from site-packages of {version}'\n"
                    ),
                }
            )
        },
        CompatibleRuntimes=[runtime],
    )
    name = f"layered-{short(runtime)}"
    create(
        lam,
        role,
        name,
        runtime,
        "uses_layer.handler",
        zip_of({"uses_layer.py": USES_LAYER}),
        Layers=[layer["LayerVersionArn"]],
    )

    error, body = invoke(lam, name, {})

    assert error is None, body
    assert body == {"shared": "from /opt/python", "versioned": f"from site-packages of {version}"}


@pytest.mark.parametrize("runtime", PYTHONS)
@pytest.mark.parametrize(
    ("case", "handler", "package", "error_type", "message"),
    [
        ("no-handler", "app.nothing", app_zip("x"), "Runtime.HandlerNotFound", "Handler 'nothing' missing"),
        (
            "no-module",
            "absent.handler",
            app_zip("x"),
            "Runtime.ImportModuleError",
            "No module named 'absent'",
        ),
        (
            "bad-import",
            "imports.handler",
            zip_of({"imports.py": IMPORTS_MISSING}),
            "Runtime.ImportModuleError",
            "No module named 'not_installed_anywhere'",
        ),
        (
            "syntax",
            "broken.handler",
            zip_of({"broken.py": SYNTAX_ERROR}),
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'broken'",
        ),
    ],
)
def test_handler_and_import_errors_have_the_runtimes_error_types(
    lam: Any,
    role: str,
    built: Callable[[str], None],
    runtime: str,
    case: str,
    handler: str,
    package: bytes,
    error_type: str,
    message: str,
) -> None:
    built(runtime)
    name = f"{case}-{short(runtime)}"
    create(lam, role, name, runtime, handler, package)

    error, body = invoke(lam, name, {})

    assert error == "Unhandled"
    assert body["errorType"] == error_type, body
    assert message in body["errorMessage"], body


def test_update_code_then_publish_keeps_the_old_versions_code(
    lam: Any, role: str, built: Callable[[str], None]
) -> None:
    built("python3.11")
    create(lam, role, "versions-py311", "python3.11", "app.handler", app_zip("old"), Publish=True)
    new = app_zip("new")

    lam.update_function_code(FunctionName="versions-py311", ZipFile=new)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="versions-py311", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    published = lam.publish_version(FunctionName="versions-py311")

    assert (published["Version"], published["CodeSha256"]) == ("2", code_sha256(new))
    assert invoke(lam, "versions-py311", {}, "1")[1]["marker"] == "old"
    assert invoke(lam, "versions-py311", {}, "2")[1]["marker"] == "new"
    assert invoke(lam, "versions-py311", {})[1]["marker"] == "new"


@pytest.mark.parametrize("runtime", CUSTOMS)
def test_a_shell_bootstrap_runs_on_the_os_only_runtimes(
    lam: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    name = f"shell-{short(runtime)}"
    package = executable_zip({"greet.sh": "echo hello from sh"}, {"bootstrap": BOOTSTRAP})
    created = create(lam, role, name, runtime, "greet.handler", package)
    assert created["Runtime"] == runtime

    error, body = invoke(lam, name, {"n": 1})

    assert error is None, body
    assert body == {
        "event": {"n": 1},
        "answer": "hello from sh",
        "handler": "greet.handler",
        "cwd": "/var/task",
    }


def test_a_bootstrap_from_a_layer_runs_the_package_on_provided_al2023(
    lam: Any, role: str, built: Callable[[str], None]
) -> None:
    built(CUSTOM)
    runtime_layer = lam.publish_layer_version(
        LayerName="shell-runtime",
        Content={"ZipFile": executable_zip({}, {"bootstrap": BOOTSTRAP})},
        CompatibleRuntimes=[CUSTOM],
    )
    create(
        lam,
        role,
        "layer-bootstrap",
        CUSTOM,
        "greet.handler",
        zip_of({"greet.sh": "echo hello from the layer runtime"}),
        Layers=[runtime_layer["LayerVersionArn"]],
    )

    error, body = invoke(lam, "layer-bootstrap", {"n": 2})

    assert error is None, body
    assert body["answer"] == "hello from the layer runtime"


BOTO3_APP = """
import boto3


def handler(event, context):
    sent = boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="sent with the runtime's boto3")
    return {"file": boto3.__file__, "version": boto3.__version__, "id": sent["MessageId"]}
"""


@pytest.mark.parametrize("runtime", PYTHONS)
def test_a_package_uses_the_runtimes_boto3_with_its_roles_credentials(
    lam: Any, sqs: Any, role: str, built: Callable[[str], None], runtime: str
) -> None:
    built(runtime)
    name = f"boto3-{short(runtime)}"
    queue = sqs.create_queue(QueueName=f"from-{name}")["QueueUrl"]
    create(lam, role, name, runtime, "app.handler", zip_of({"app.py": BOTO3_APP}))

    error, body = invoke(lam, name, {"queue": queue})

    assert error is None, body
    assert body["file"] == "/var/runtime/boto3/__init__.py"
    received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in received] == [(body["id"], "sent with the runtime's boto3")]


@pytest.mark.parametrize(
    ("package", "message"),
    [
        (
            zip_of({"greet.sh": "echo no bootstrap"}),
            "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
        ),
        (zip_of({"bootstrap": BOOTSTRAP}), "fork/exec /var/task/bootstrap: permission denied"),
    ],
    ids=["none", "not-executable"],
)
def test_a_package_without_a_bootstrap_it_can_run_is_runtime_invalid_entrypoint(
    lam: Any, role: str, built: Callable[[str], None], package: bytes, message: str
) -> None:
    built(CUSTOM)
    name = f"no-bootstrap-{len(message)}"
    create(lam, role, name, CUSTOM, "greet.handler", package)

    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": f"RequestId: {request_id} Error: {message}",
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Status: error\tError Type: Runtime.InvalidEntrypoint" in log


def test_the_readmes_zip_flow_works_with_the_aws_cli(
    server: LambkinServer, lam: Any, role: str, built: Callable[[str], None], tmp_path: Path
) -> None:
    """The README's app.py, zipped by `zip`, created and invoked with the AWS CLI as the README shows."""
    built("python3.11")
    readme = (REPO / "README.md").read_text()
    (tmp_path / "app.py").write_text(readme.split("cat > app.py <<'PY'\n", 1)[1].split("\nPY\n", 1)[0] + "\n")
    subprocess.run(["zip", "-q", "fn.zip", "app.py"], cwd=tmp_path, check=True)

    created = parsed(
        run_aws(
            server, "lambda", "create-function", "--function-name", "readme-hello",
            "--runtime", "python3.11", "--handler", "app.handler",
            "--zip-file", f"fileb://{tmp_path / 'fn.zip'}", "--role", role,
        )
    )  # fmt: skip
    assert (created["Runtime"], created["PackageType"]) == ("python3.11", "Zip")
    lam.get_waiter("function_active_v2").wait(
        FunctionName="readme-hello", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    out = tmp_path / "out.json"
    invoked = parsed(
        run_aws(
            server, "lambda", "invoke", "--function-name", "readme-hello",
            "--payload", '{"name": "zip"}', str(out),
        )
    )  # fmt: skip
    assert invoked["StatusCode"] == 200 and "FunctionError" not in invoked
    assert json.loads(out.read_text()) == {"hello": "zip"}
