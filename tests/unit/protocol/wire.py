"""Test helper: requests built and signed by botocore, sent to an ASGI app in-process, read by botocore."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, prepare_request_dict
from botocore.credentials import Credentials as BotoCredentials
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from urllib3 import HTTPHeaderDict

from lambkin.api.asgi import ASGIApp
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.legacy import query_model
from lambkin.protocol.model import service_index
from lambkin.protocol.service import Handler

KEY = Credentials("AKIDTEST", "test-secret")
ENDPOINT = "http://localhost:9000"


def model_for(service: str, protocol: str | None = None) -> ServiceModel:
    """The model a client speaking `protocol` uses (the query-era one for SQS's query protocol)."""
    if protocol == "query":
        return query_model(service)
    return service_index(service).model


@dataclass(frozen=True)
class Answer:
    status: int
    headers: HTTPHeaderDict
    body: bytes

    def parsed(self, operation: OperationModel, protocol: str) -> dict[str, Any]:
        """The response as botocore's parser for the protocol reads it."""
        shape = operation.output_shape
        parser = create_parser(protocol)
        result: dict[str, Any] = parser.parse(
            {"status_code": self.status, "headers": self.headers, "body": self.body}, shape
        )
        return result


def build(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    protocol: str | None = None,
    credentials: Credentials = KEY,
    region: str = "us-east-1",
    sign: bool = True,
) -> AWSPreparedRequest:
    """A request serialized by botocore's serializer and signed by botocore's SigV4Auth."""
    model = model_for(service, protocol)
    op = model.operation_model(operation)
    serializer = create_serializer(protocol or model.metadata["protocol"], include_validation=False)
    request_dict = serializer.serialize_to_request(dict(params), op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    from botocore.awsrequest import create_request_object

    request = create_request_object(request_dict)
    if sign:
        creds = BotoCredentials(credentials.access_key_id, credentials.secret_access_key)
        SigV4Auth(creds, model.signing_name or service, region).add_auth(request)
    prepared: AWSPreparedRequest = request.prepare()
    return prepared


def send(app: ASGIApp, request: AWSPreparedRequest) -> Answer:
    """Runs one request through the ASGI app."""
    return asyncio.run(send_async(app, request))


async def send_async(app: ASGIApp, request: AWSPreparedRequest) -> Answer:
    parts = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = [
        (k.lower().encode(), v if isinstance(v, bytes) else str(v).encode())
        for k, v in request.headers.items()
    ]
    if not any(k == b"host" for k, _ in headers):
        headers.append((b"host", parts.netloc.encode()))
    scope = {
        "type": "http",
        "method": request.method,
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 5555),
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def collect(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, collect)
    start = sent[0]
    answer_headers = HTTPHeaderDict()
    for key, value in start["headers"]:
        answer_headers.add(key.decode(), value.decode())
    return Answer(start["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:]))


def gateway(services: Mapping[str, Mapping[str, Handler]], now: datetime | None = None) -> AwsAsgi:
    """The gateway over `services`, for the account 000000000000 whose one key is KEY, as an ASGI app."""
    if now is None:
        return AwsAsgi(AwsGateway(services, "000000000000", Keyring(KEY, "000000000000")))
    return AwsAsgi(AwsGateway(services, "000000000000", Keyring(KEY, "000000000000"), now=lambda: now))


def echo(output: Mapping[str, Any] | None = None) -> tuple[Handler, list[dict[str, Any]]]:
    """A handler that records its input and returns `output`."""
    seen: list[dict[str, Any]] = []

    async def handle(params: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append({"params": params, "context": context})
        return dict(output or {})

    return handle, seen


_SESSION = botocore.session.get_session()  # one model cache for every current-model client


class _RawBody(io.BytesIO):
    """What botocore expects of urllib3's response: a readable stream with `stream()`."""

    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def client(
    app: ASGIApp,
    service: str,
    *,
    model_dir: Path | None = None,
    secret: str | None = None,
    key: Credentials = KEY,
    token: str | None = None,
) -> Any:
    """A real botocore client whose HTTP requests go to `app` in-process (no sockets), signing with `key`
    (its secret replaced by `secret`, if given) and the session token `token`.

    With `model_dir`, the client loads its model from there first (an old, query-protocol SQS client).
    """
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    if model_dir is None:
        session = _SESSION
    else:
        session = botocore.session.get_session()
        session.get_component("data_loader").search_paths.insert(0, str(model_dir))
    made = session.create_client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=secret or key.secret_access_key,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        answer = send(app, request)
        return AWSResponse(request.url, answer.status, answer.headers, _RawBody(answer.body))

    made.meta.events.register("before-send", before_send)
    return made


def write_query_model(directory: Path) -> Path:
    """The query-era SQS model as a botocore data directory, for an old-style client."""
    import json

    target = directory / "sqs" / "2012-11-05"
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(query_model("sqs")._service_description))
    return directory
