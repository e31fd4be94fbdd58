"""Cost of authorization per request, in-process: the Authorize hook for the account root and for a role
with ten policies, on Lambda Invoke and SQS SendMessage, with the real action tables and authorizer.

Anchor: the same signed request through the whole gateway (SigV4, route, parse, validate, handler,
serialize) with no Authorize hook. The ratios say what authorization adds to a request's protocol work;
a warm invoke's round trip (bench/warm_invoke.py) costs several times that work, so its share there is
smaller still.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials as BotoCredentials
from botocore.serialize import create_serializer

from bench.protocol_overhead import _handler, _serve_many
from lambkin.api.authorize import build_authorize
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.lambda_actions import lambda_actions
from lambkin.api.sqs_actions import sqs_actions
from lambkin.functions import policies as function_policies
from lambkin.functions.names import Arns
from lambkin.functions.policies import FunctionPolicies
from lambkin.functions.repository import MIGRATIONS
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Key
from lambkin.identity.principals import Principal, root
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.model import service_index
from lambkin.protocol.service import RequestContext
from lambkin.queues.service import open_queue_service
from lambkin.queues.storage import QueueRow
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.identity import FakeDirectory

ACCOUNT = "000000000000"
ENDPOINT = "http://localhost:9000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench"
SESSION = Principal(
    "assumed-role", f"arn:aws:sts::{ACCOUNT}:assumed-role/bench/s", ACCOUNT, "AROABENCH:s", "s", ROLE
)
WHO = (("root", root(ACCOUNT)), ("role", SESSION))
ROUNDS = 8
KEYS = {"AKIDROOT": ("root-secret", root(ACCOUNT)), "ASIAROLE": ("role-secret", SESSION)}
CASES: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "lambda Invoke": (
        "lambda",
        "Invoke",
        {"FunctionName": "bench-fn", "Payload": b'{"k":"v"}'},
        {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": b'{"ok":true}'},
    ),
    "sqs SendMessage": (
        "sqs",
        "SendMessage",
        {"QueueUrl": f"{ENDPOINT}/{ACCOUNT}/jobs", "MessageBody": "hello" * 20},
        {"MessageId": "m", "MD5OfMessageBody": "d" * 32},
    ),
}


def _ten_policies() -> list[str]:
    """A role's ten policies: logs, queues, functions, a deny, conditions; the benched calls are allowed."""
    lam = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": f"arn:aws:sqs:*:{ACCOUNT}:in-*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"},
        {"Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [lam + f"worker-{i}" for i in range(20)],
        },
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": lam + "bench-*"},
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/t"},
        {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        },
        {
            "Effect": "Deny",
            "Action": "sqs:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]}},
        },
    ]
    return [json.dumps({"Version": "2012-10-17", "Statement": [s]}) for s in statements]


def _request(access_key_id: str, service: str, operation: str, params: dict[str, Any]) -> AWSPreparedRequest:
    model = service_index(service).model
    op = model.operation_model(operation)
    request_dict = create_serializer(model.metadata["protocol"], False).serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    request = create_request_object(request_dict)
    secret = KEYS[access_key_id][0]
    SigV4Auth(BotoCredentials(access_key_id, secret), service, "us-east-1").add_auth(request)
    prepared: AWSPreparedRequest = request.prepare()
    return prepared


def _keys(access_key_id: str, token: str | None) -> Key | None:
    found = KEYS.get(access_key_id)
    return None if found is None else Key(found[0], found[1])


def _context(service: str, operation: str, caller: Principal) -> RequestContext:
    return RequestContext(service, operation, "us-east-1", ACCOUNT, "AKID", caller, "r", {}, "127.0.0.1")


def _hook(
    authorize: Any, service: str, operation: str, params: dict[str, Any], caller: Principal, count: int
) -> float:
    context, arguments = _context(service, operation, caller), dict(params)
    started = time.perf_counter()
    for _ in range(count):
        authorize(context, arguments)
    return (time.perf_counter() - started) / count


def main(count: int = 8000) -> None:
    with tempfile.TemporaryDirectory() as work:
        db = SqliteStore(Path(work) / "lambkin.db")
        db.migrate(MIGRATIONS + function_policies.MIGRATIONS)
        queues = open_queue_service(SqliteStore(Path(work) / "queues.db"), "us-east-1", ACCOUNT)
        queues.registry.restore(QueueRow("jobs", False, {}, {}, 0, 0, 0))
        arns = Arns("us-east-1", ACCOUNT)
        tables = {
            "lambda": lambda_actions(arns, FunctionPolicies(db, arns)),
            "sqs": sqs_actions(queues.registry),
        }
        directory = FakeDirectory()
        for document in _ten_policies():
            directory.attach(ROLE, document)
        services: dict[str, dict[str, Any]] = {"lambda": {}, "sqs": {}}
        for service, operation, _, output in CASES.values():
            services[service][operation] = _handler(output)
        authorize = build_authorize(Authorizer(directory, ACCOUNT), tables, services)
        bare = AwsAsgi(AwsGateway(services, ACCOUNT, _keys))
        guarded = AwsAsgi(AwsGateway(services, ACCOUNT, _keys, authorize=authorize))

        print("the Authorize hook alone, µs per request")
        print(f"{'case':<20}{'root':>10}{'ten-policy role':>18}")
        for name, (service, operation, params, _) in CASES.items():
            spent = {
                who: _hook(authorize, service, operation, params, caller, count * 10) for who, caller in WHO
            }
            print(f"{name:<20}{spent['root'] * 1e6:>10.2f}{spent['role'] * 1e6:>18.2f}")

        print(
            f"\nthe whole gateway, µs per request, best of {ROUNDS} interleaved rounds (anchor: no Authorize hook)"
        )
        print(f"{'case':<20}{'no hook':>10}{'root':>10}{'role':>10}{'root/anchor':>13}{'role/anchor':>13}")
        for name, (service, operation, params, _) in CASES.items():
            root_request = _request("AKIDROOT", service, operation, params)
            role_request = _request("ASIAROLE", service, operation, params)
            runs = {
                "anchor": (bare, root_request),
                "root": (guarded, root_request),
                "role": (guarded, role_request),
            }
            for app, request in runs.values():
                asyncio.run(_serve_many(app, request, 100))  # warm caches
            best = dict.fromkeys(runs, float("inf"))
            for _ in range(ROUNDS):
                for variant, (app, request) in runs.items():
                    best[variant] = min(
                        best[variant], asyncio.run(_serve_many(app, request, count // ROUNDS))
                    )
            anchor, as_root, as_role = best["anchor"], best["root"], best["role"]
            print(
                f"{name:<20}{anchor * 1e6:>10.1f}{as_root * 1e6:>10.1f}{as_role * 1e6:>10.1f}"
                f"{as_root / anchor:>12.3f}x{as_role / anchor:>12.3f}x"
            )
        queues.db.close()
        db.close()


if __name__ == "__main__":
    main()
