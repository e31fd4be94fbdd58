"""Per-request cost of the protocol layer (SigV4 + route + parse + validate + serialize), in-process.

Anchor: botocore's own client-side work for the same call (serialize, sign, parse the response), timed
beside it. The ratio says how the server's protocol work compares with what every boto3 call already costs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials as BotoCredentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from lambkin.api.aws_asgi import AwsAsgi
from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.model import service_index

KEY = Credentials("AKIDBENCH", "bench-secret")
ENDPOINT = "http://localhost:9000"
CONFIG = {
    "FunctionName": "fn",
    "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
    "Role": "arn:aws:iam::000000000000:role/r",
    "CodeSize": 0,
    "Timeout": 3,
    "MemorySize": 128,
    "LastModified": "2026-01-01T00:00:00.000+0000",
    "CodeSha256": "a" * 64,
    "Version": "$LATEST",
    "Environment": {"Variables": {"STAGE": "prod", "LEVEL": "info"}},
    "RevisionId": "00000000-0000-0000-0000-000000000000",
    "State": "Active",
    "LastUpdateStatus": "Successful",
    "PackageType": "Image",
    "Architectures": ["x86_64"],
    "EphemeralStorage": {"Size": 512},
    "ImageConfigResponse": {"ImageConfig": {"Command": ["app.handler"]}},
}
CASES: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "lambda GetFunction": (
        "lambda",
        "GetFunction",
        {"FunctionName": "fn", "Qualifier": "1"},
        {"Configuration": CONFIG},
    ),
    "lambda Invoke 1 KiB": (
        "lambda",
        "Invoke",
        {"FunctionName": "fn", "Payload": b'{"k":"' + b"v" * 1000 + b'"}'},
        {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": b'{"ok":true}'},
    ),
    "sqs SendMessage (json)": (
        "sqs",
        "SendMessage",
        {
            "QueueUrl": "http://localhost:9000/000000000000/q",
            "MessageBody": "hello" * 20,
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}},
        },
        {"MessageId": "m", "MD5OfMessageBody": "d" * 32},
    ),
}


def _request(service: str, operation: str, params: dict[str, Any]) -> AWSPreparedRequest:
    model = service_index(service).model
    op = model.operation_model(operation)
    request_dict = create_serializer(model.metadata["protocol"], False).serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    request = create_request_object(request_dict)
    SigV4Auth(BotoCredentials(KEY.access_key_id, KEY.secret_access_key), service, "us-east-1").add_auth(
        request
    )
    prepared: AWSPreparedRequest = request.prepare()
    return prepared


def _scope(request: AWSPreparedRequest) -> tuple[dict[str, Any], bytes]:
    path, _, query = request.url[len(ENDPOINT) :].partition("?")
    body = request.body or b""
    headers = [
        (k.lower().encode(), v if isinstance(v, bytes) else str(v).encode())
        for k, v in request.headers.items()
    ]
    headers.append((b"host", b"localhost:9000"))
    scope = {
        "type": "http",
        "method": request.method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    return scope, body if isinstance(body, bytes) else body.encode()


async def _serve_many(app: AwsAsgi, request: AWSPreparedRequest, count: int) -> float:
    scope, body = _scope(request)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(count):
        await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    assert set(statuses) == {200}, set(statuses)
    return elapsed / count


def _client_side(service: str, operation: str, params: dict[str, Any], reply: Any, count: int) -> float:
    """What botocore does per call around the HTTP exchange: serialize, sign, parse."""
    model = service_index(service).model
    op = model.operation_model(operation)
    parser = create_parser(model.metadata["protocol"])
    response = {"status_code": reply["status"], "headers": reply["headers"], "body": reply["body"]}
    started = time.perf_counter()
    for _ in range(count):
        _request(service, operation, params)
        parser.parse(dict(response), op.output_shape)
    return (time.perf_counter() - started) / count


def _capture(app: AwsAsgi, request: AWSPreparedRequest) -> dict[str, Any]:
    scope, body = _scope(request)
    result: dict[str, Any] = {"headers": {}, "body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            result["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return result


def _handler(output: dict[str, Any]) -> Callable[..., Any]:
    async def handle(params: dict[str, Any], context: Any) -> dict[str, Any]:
        return output

    return handle


def main(count: int = 2000) -> None:
    services: dict[str, dict[str, Any]] = {"lambda": {}, "sqs": {}, "logs": {}}
    for service, operation, _, output in CASES.values():
        services[service][operation] = _handler(output)
    app = AwsAsgi(AwsGateway(services, "000000000000", Keyring(KEY, "000000000000")))
    print(f"{'case':<26}{'lambkin µs/req':>16}{'botocore client µs/call':>26}{'ratio':>8}")
    for name, (service, operation, params, _) in CASES.items():
        request = _request(service, operation, params)
        asyncio.run(_serve_many(app, request, 50))  # warm caches
        server = asyncio.run(_serve_many(app, request, count))
        anchor = _client_side(service, operation, params, _capture(app, request), count // 4)
        print(f"{name:<26}{server * 1e6:>16.1f}{anchor * 1e6:>26.1f}{server / anchor:>8.2f}x")


if __name__ == "__main__":
    main()
