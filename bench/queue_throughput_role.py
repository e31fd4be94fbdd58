"""SQS throughput signed by a role with ten policies, against the same load signed by the root key.

Run: .venv/bin/python -m bench.queue_throughput_role [--clients N] [--per-client M] [--rounds R]

One `lambkin server`; N lean client processes (bench.queue_send_receive's LeanClient: SigV4 and raw JSON),
each on its own queue: SendMessageBatch, ReceiveMessage of 10, DeleteMessageBatch until every message is
back. Anchor: the clients sign with the server's key pair (the account root, never asked about). Measured:
they sign with the temporary credentials of a role whose ten inline policies the authorizer evaluates.
Alternating rounds (neither side always first); prints each round's rates, wall-clock and per second of the
server's own CPU time, and the median of the rounds' ratios. On a machine whose cores the clients share with
the server, the clients' own work (a role's requests carry its session token, and the clients sign them)
takes CPU from the server: the per-server-CPU figure is the server's cost (target >= 0.95).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY

from bench.queue_send_receive import cpu_seconds
from bench.support import lambkin_server, role_session

TARGET_RATIO = 0.95
ACCOUNT = "000000000000"
Key = tuple[str, str, str | None]


def _policies() -> list[str]:
    """Ten policies of the shape roles carry; one lets the role use the bench's queues."""
    statements: list[dict[str, object]] = [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:*",
        },
        {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": f"arn:aws:sqs:*:{ACCOUNT}:in-*"},
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/t"},
        {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/${aws:userid}/*"},
        {
            "Effect": "Deny",
            "Action": "sqs:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]}},
        },
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "sqs:CreateQueue",
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
            ],
            "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:role-*",
        },
    ]
    return [json.dumps({"Version": "2012-10-17", "Statement": [s]}) for s in statements]


def rate(
    endpoint: str, prefix: str, clients: int, per_client: int, key: Key, server_pid: int
) -> tuple[float, float]:
    """Messages per second through send, receive and delete with `clients` processes at once, and messages
    per second of the server's own CPU time (what the server can do when the clients do not share its cores)."""
    from bench import queue_send_receive  # by its module name: spawned processes must find the worker

    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    workers = [
        context.Process(
            target=queue_send_receive.lean_worker, args=(endpoint, f"{prefix}-{i}", per_client, ready, key)
        )
        for i in range(clients)
    ]
    for process in workers:
        process.start()
    ready.wait()
    started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
    for process in workers:
        process.join()
        assert process.exitcode == 0
    messages = clients * per_client
    return messages / (time.perf_counter() - started), messages / (cpu_seconds(server_pid) - cpu_before)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.queue_throughput_role")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {"root": [], "role": []}
    per_cpu: dict[str, list[float]] = {"root": [], "role": []}
    with lambkin_server({"LAMBKIN_LOG_LEVEL": "WARNING"}) as server:
        keys: dict[str, Key] = {
            "root": (ACCESS_KEY_ID, SECRET_ACCESS_KEY, None),
            "role": role_session(server, "bench-queues", _policies()),
        }
        for round_number in range(args.rounds):
            order = (
                ("root", "role") if round_number % 2 == 0 else ("role", "root")
            )  # neither always goes first
            for who in order:
                prefix = f"{who}-r{round_number}"
                assert server.process is not None
                wall, cpu = rate(
                    server.endpoint, prefix, args.clients, args.per_client, keys[who], server.process.pid
                )
                rates[who].append(wall)
                per_cpu[who].append(cpu)
    # Each round's two runs are adjacent in time: their ratio is the least disturbed by other load.
    ratio = statistics.median(role / root for root, role in zip(rates["root"], rates["role"], strict=True))
    cpu_ratio = statistics.median(
        role / root for root, role in zip(per_cpu["root"], per_cpu["role"], strict=True)
    )
    print(
        f"SQS send+receive+delete, {args.clients} lean clients x {args.per_client} messages, {args.rounds} rounds"
    )
    for who, label in (
        ("root", "anchor  root key              "),
        ("role", "role with ten inline policies "),
    ):
        print(
            f"{label}: {', '.join(f'{r:,.0f}' for r in rates[who])} messages/s; "
            f"{', '.join(f'{r:,.0f}' for r in per_cpu[who])} messages per server CPU second"
        )
    print(
        f"median of the rounds' ratios role/root: throughput {ratio:.3f}, per server CPU second {cpu_ratio:.3f}"
    )
    verdict = "PASS" if cpu_ratio >= TARGET_RATIO else "FAIL"
    print(f"server cost ratio (per CPU second) {cpu_ratio:.3f} (target >= {TARGET_RATIO}) -> {verdict}")
    print(
        json.dumps(
            {
                "bench": "queue_throughput_role",
                "per_s": rates,
                "per_cpu_s": per_cpu,
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
