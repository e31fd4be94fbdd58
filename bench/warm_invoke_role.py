"""Warm invoke latency signed by a role with ten policies, against the same run signed by the root key.

Run: .venv/bin/python -m bench.warm_invoke_role [--requests N]

One `lambkin server`, one function (python-echo, handler app.handler), one raw keep-alive client. Anchor: the
Invoke signed with the server's key pair (the account root, never asked about). Measured: the same Invoke
signed with the temporary credentials of a role whose ten inline policies the authorizer evaluates (once;
then from its caches). Alternating rounds; prints both p50s and their ratio (target <= 1.05).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.support import (
    MEMORY_MB,
    create_function,
    creds,
    lambkin_connection,
    lambkin_server,
    percentile,
    post,
    role_session,
    signed_invoke,
    timed,
)

TARGET_RATIO = 1.05
ACCOUNT = "000000000000"


def _policies(function_arn: str) -> list[str]:
    """Ten policies of the shape roles carry; one of them lets the role invoke the function."""
    statements: list[dict[str, object]] = [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": f"arn:aws:sqs:*:{ACCOUNT}:in-*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:out"},
        {"Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"},
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": function_arn},
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/t"},
        {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "sqs:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]}},
        },
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/${aws:userid}/*"},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn + "*"},
    ]
    return [json.dumps({"Version": "2012-10-17", "Statement": [s]}) for s in statements]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.warm_invoke_role")
    parser.add_argument("--requests", type=int, default=4000, help="timed requests per side")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds")
    args = parser.parse_args(argv)
    from tests.images import push

    body = b'{"bench": "warm"}'
    per_round = max(1, args.requests // args.rounds)
    samples: dict[str, list[float]] = {"root": [], "role": []}
    with lambkin_server({"LAMBKIN_FREEZE_AFTER": "5"}) as server:
        uri = push("python-echo", server.registry, creds(), tag="bench")
        lam = create_function(server, "warm", uri, MemorySize=MEMORY_MB)
        function_arn = lam.get_function(FunctionName="warm")["Configuration"]["FunctionArn"]
        lam.invoke(FunctionName="warm", Payload=body)  # cold start, not timed
        signed = {
            "root": signed_invoke(server, "warm", body),
            "role": signed_invoke(
                server, "warm", body, role_session(server, "bench-invoker", _policies(function_arn))
            ),
        }
        connection = lambkin_connection(server)

        def call(who: str) -> bytes:
            path, headers = signed[who]
            return post(connection, path, body, headers)

        async def run() -> None:
            for who in samples:
                assert b"bench" in call(who), who  # the role may invoke
                await asyncio.to_thread(timed, lambda w=who: call(w), 200)
            for _ in range(args.rounds):
                for who in samples:
                    samples[who].extend(await asyncio.to_thread(timed, lambda w=who: call(w), per_round))

        asyncio.run(run())
    root50, role50 = percentile(samples["root"], 0.5), percentile(samples["role"], 0.5)
    ratio = role50 / root50
    print(f"warm invoke, python-echo, {len(samples['role'])} requests per side, one client, keep-alive")
    print(
        f"anchor  root key              : p50 {root50:.3f} ms  p99 {percentile(samples['root'], 0.99):.3f} ms"
    )
    print(
        f"role with ten inline policies : p50 {role50:.3f} ms  p99 {percentile(samples['role'], 0.99):.3f} ms"
    )
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio p50 role/root = {ratio:.3f} (target <= {TARGET_RATIO}) -> {verdict}")
    print(
        json.dumps(
            {"bench": "warm_invoke_role", "root_p50_ms": root50, "role_p50_ms": role50, "ratio": ratio}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
