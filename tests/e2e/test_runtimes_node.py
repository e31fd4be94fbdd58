"""The Node.js managed runtimes end to end: `lambkin runtimes build nodejs18.x|nodejs20.x` (Debian's node, the
aws-lambda-ric client compiled for it, the AWS SDK for JavaScript v3), then zip functions on them with boto3:
sync and async invokes, an SQS mapping, a layer's module on NODE_PATH, the runtime's own error types, and
handlers that require or import the runtime's SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambkin.runtimes.recipes import AWS_SDK_VERSION
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling, execution_role
from tests.e2e.runtime_support import RUNTIME_BUILDS_TIMEOUT_S
from tests.e2e.zip_support import zip_of
from tests.harness import LambkinServer, eventually

# The fixture builds both Node runtimes: their first build (two Debian trees, two builder trees, the
# client compiled twice) takes several minutes, as the other runtime-building modules allow for.
pytestmark = [pytest.mark.runc, pytest.mark.timeout(RUNTIME_BUILDS_TIMEOUT_S)]

REPO = Path(__file__).resolve().parents[2]
# Built runtimes are cached here across runs, keyed by their recipe (the first build takes minutes).
CACHE = Path(os.environ.get("LAMBKIN_RUNTIMES_CACHE", REPO / ".cache" / "runtimes"))
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x")

INDEX = """
const greeting = require("greeting");
const v8 = require("v8");

exports.handler = async (event, context) => ({
  event,
  node: process.versions.node,
  cwd: process.cwd(),
  requestId: context.awsRequestId,
  functionName: context.functionName,
  greeting: greeting.hello(),
  execArgv: process.execArgv,
  heapLimitMb: v8.getHeapStatistics().heap_size_limit / 1048576,
  env: {
    AWS_EXECUTION_ENV: process.env.AWS_EXECUTION_ENV,
    NODE_PATH: process.env.NODE_PATH,
    LAMBDA_TASK_ROOT: process.env.LAMBDA_TASK_ROOT,
    LAMBDA_RUNTIME_DIR: process.env.LAMBDA_RUNTIME_DIR,
    _HANDLER: process.env._HANDLER,
  },
});

exports.records = async (event) => {
  for (const record of event.Records) {
    console.log("RECORD " + JSON.stringify({ body: record.body, source: record.eventSource }));
  }
  return {};
};

exports.fail = async () => {
  throw new TypeError("the input was not a number");
};
"""
BROKEN = "exports.handler = async (event) => { return {;\n"
# Handlers that use the runtime's AWS SDK without shipping it, once through `require` (CommonJS), once through
# `import` (an ES module): each looks its queue up by name and sends to it, through lambkin's endpoint
# (AWS_ENDPOINT_URL) with its role's credentials, as the SDK finds them with no configuration. The ES module
# imports a layer's package too: `import` searches NODE_PATH as on Lambda, the layer's folders first.
SDK_REQUIRE = """
const { SQSClient, GetQueueUrlCommand, SendMessageCommand } = require("@aws-sdk/client-sqs");
const { version } = require("@aws-sdk/client-sqs/package.json");

exports.handler = async (event) => {
  const sqs = new SQSClient({});
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: event.queue }));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: event.body }));
  return { id: sent.MessageId, file: require.resolve("@aws-sdk/client-sqs"), version };
};
"""
SDK_IMPORT = """
import { SQSClient, GetQueueUrlCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import greeting from "greeting";

export const handler = async (event) => {
  const sqs = new SQSClient({});
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: event.queue }));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: event.body }));
  return { id: sent.MessageId, region: await sqs.config.region(), greeting: greeting.hello() };
};
"""
LAYER = {"nodejs/node_modules/greeting/index.js": 'exports.hello = () => "hello from a layer";\n'}


def lambkin(server: LambkinServer, *args: str) -> str:
    command = [sys.executable, "-m", "lambkin", *args, "--data-dir", str(server.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=server.environment(), check=False)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def role(server: LambkinServer) -> str:
    """The Node runtimes built into the server's data directory (from the cache after the first time), and
    a role that may take a queue's messages and send to queues (async results, the SDK's messages)."""
    for name in NODE_RUNTIMES:
        lambkin(server, "runtimes", "build", name, "--cache-dir", str(CACHE))
    listed = {row["runtime"]: row for row in json.loads(lambkin(server, "runtimes", "list", "--json"))}
    assert all(listed[name]["built"] for name in NODE_RUNTIMES), listed
    allow_destinations(server.endpoint)
    allow_queue_polling(server.endpoint)
    return execution_role(server.endpoint)


@pytest.fixture(scope="module")
def layer(lam: Any, role: str) -> str:
    published = lam.publish_layer_version(
        LayerName="node-greeting",
        Content={"ZipFile": zip_of(dict(LAYER))},
        CompatibleRuntimes=[*NODE_RUNTIMES],
    )
    return str(published["LayerVersionArn"])


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def node_function(lam: Any, role: str, layer: str, name: str, runtime: str, handler: str) -> str:
    files: dict[str, str | bytes] = {"index.js": INDEX, "broken.js": BROKEN}
    lam.create_function(
        FunctionName=name,
        Role=role,
        Runtime=runtime,
        Handler=handler,
        Code={"ZipFile": zip_of(files)},
        Layers=[layer],
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return name


def invoke(lam: Any, name: str, event: object) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_node_handler_runs_on_its_runtime(lam: Any, role: str, layer: str, runtime: str) -> None:
    name = node_function(lam, role, layer, f"node-{runtime[:8]}", runtime, "index.handler")

    response, body = invoke(lam, name, {"hello": runtime})

    assert (response["StatusCode"], response.get("FunctionError")) == (200, None), body
    assert body["event"] == {"hello": runtime}
    assert body["node"].split(".")[0] == runtime[len("nodejs") : -len(".x")]
    assert body["cwd"] == "/var/task"
    assert body["functionName"] == name
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert body["greeting"] == "hello from a layer"
    # V8 sized from the function's 128 MB as on Lambda: young generation 12 MB (two semi-spaces), old 116 MB
    assert body["execArgv"] == [
        "--expose-gc", "--max-http-header-size", "81920", "--max-semi-space-size=6", "--max-old-space-size=116",
    ]  # fmt: skip
    assert body["heapLimitMb"] < 256  # V8 alone would allow 2 GB or more
    major = runtime[len("nodejs") : -len(".x")]
    assert body["env"] == {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "NODE_PATH": f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "index.handler",
    }


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_an_async_invoke_delivers_the_result_to_its_destination(
    lam: Any, sqs: Any, role: str, layer: str, runtime: str
) -> None:
    name = node_function(lam, role, layer, f"node-async-{runtime[:8]}", runtime, "index.handler")
    url = sqs.create_queue(QueueName=f"{name}-results")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )

    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')

    assert response["StatusCode"] == 202
    messages = eventually(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages"), "the success record"
    )
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"async": True}
    assert record["responsePayload"]["event"] == {"async": True}
    assert record["responsePayload"]["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_an_sqs_mapping_hands_the_queues_messages_to_the_node_handler(
    server: LambkinServer, lam: Any, sqs: Any, role: str, layer: str, runtime: str
) -> None:
    name = node_function(lam, role, layer, f"node-sqs-{runtime[:8]}", runtime, "index.records")
    url = sqs.create_queue(QueueName=f"{name}-in")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)

    for body in ("one", "two"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    logs = server.client("logs")

    def logged() -> list[str] | None:
        try:
            page = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="RECORD")
        except logs.exceptions.ResourceNotFoundException:
            return None
        texts = [event["message"] for event in page["events"] if "RECORD " in event["message"]]
        return texts if len(texts) >= 2 else None

    texts = eventually(logged, "both records logged by the handler")
    # Lambda's Node.js log format: timestamp, request ID, level, message, tab-separated
    fields = [text.split("\t", 3) for text in texts]
    assert all(len(f) == 4 and f[1] and f[2] == "INFO" and f[3].startswith("RECORD ") for f in fields), texts
    records = [json.loads(text.split("RECORD ", 1)[1]) for text in texts]
    assert sorted(record["body"] for record in records) == ["one", "two"]
    assert {record["source"] for record in records} == {"aws:sqs"}
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def emptied() -> bool:
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return all(got[key] == "0" for key in names)

    eventually(emptied, "the consumed messages deleted")


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_errors_have_the_node_runtimes_types(lam: Any, role: str, layer: str, runtime: str) -> None:
    short = runtime[:8]
    cases = {
        "index.fail": ("TypeError", "the input was not a number"),
        "index.nothing": ("Runtime.HandlerNotFound", "index.nothing is undefined or not exported"),
        "nomodule.handler": ("Runtime.ImportModuleError", "Cannot find module 'nomodule'"),
        "broken.handler": ("Runtime.UserCodeSyntaxError", "SyntaxError"),
    }
    for number, (handler, (error_type, message)) in enumerate(cases.items()):
        name = node_function(lam, role, layer, f"node-error{number}-{short}", runtime, handler)

        response, body = invoke(lam, name, {})

        assert (response["StatusCode"], response.get("FunctionError")) == (200, "Unhandled"), body
        assert body["errorType"] == error_type, body
        assert message in body["errorMessage"], body


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
@pytest.mark.parametrize(("module", "source"), [("sdk.js", SDK_REQUIRE), ("sdk.mjs", SDK_IMPORT)])
def test_a_handler_uses_the_runtimes_aws_sdk_with_its_roles_credentials(
    server: LambkinServer, lam: Any, sqs: Any, role: str, layer: str, runtime: str, module: str, source: str
) -> None:
    allowed = {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"], "Resource": "*"}
    server.client("iam").put_role_policy(
        RoleName=role.rsplit("/", 1)[1],
        PolicyName="sdk-queues",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allowed]}),
    )
    name = f"node-sdk-{module.split('.')[1]}-{runtime[:8]}"
    url = sqs.create_queue(QueueName=f"from-{name}")["QueueUrl"]
    lam.create_function(
        FunctionName=name,
        Role=role,
        Runtime=runtime,
        Handler="sdk.handler",
        Code={"ZipFile": zip_of({module: source})},
        Layers=[layer],
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )

    response, body = invoke(lam, name, {"queue": f"from-{name}", "body": f"sent from {module} on {runtime}"})

    assert (response["StatusCode"], response.get("FunctionError")) == (200, None), body
    if module == "sdk.js":
        assert body["file"] == "/var/runtime/node_modules/@aws-sdk/client-sqs/dist-cjs/index.js"
        assert body["version"] == AWS_SDK_VERSION
    else:
        assert (body["region"], body["greeting"]) == (lam.meta.region_name, "hello from a layer")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in received] == [
        (body["id"], f"sent from {module} on {runtime}")
    ]
