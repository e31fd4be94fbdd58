"""Scheduler firing accuracy: 1,000 schedules due in the same minute, their lateness p50 and p99.

Run: .venv/bin/python -m bench.schedule_lateness [--schedules N] [--lead SECONDS]

Starts a fresh `lambkin server`, creates an execution role allowed to send to one queue, then N one-time
schedules `at(T)` (T: the first whole minute at least `--lead` seconds ahead, so every schedule exists
before it falls due) whose target is that queue. Each message's SentTimestamp minus T is its lateness
(SQS's timestamps have millisecond precision; Scheduler's precision is a minute, lambkin's target p99 is
under 1 s). The anchor, measured in the same run: the time the client takes to send the same N messages
itself in batches of 10 (what delivering them costs at the least); the ratio is p99 lateness over it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench.queue_send_receive import KEY, SECRET, free_port, wait_ready

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def drain(sqs: Any, url: str, count: int, limit_s: float) -> list[float]:
    """The SentTimestamps (seconds) of `count` messages, received and deleted."""
    sent: list[float] = []
    deadline = time.monotonic() + limit_s
    while len(sent) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        sent += [int(m["Attributes"]["SentTimestamp"]) / 1000 for m in messages]
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return sent


def measure(endpoint: str, count: int, lead: float) -> tuple[list[float], float]:
    sqs, iam, scheduler = client(endpoint, "sqs"), client(endpoint, "iam"), client(endpoint, "scheduler")
    url = sqs.create_queue(QueueName="fired")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = iam.create_role(RoleName="bench-scheduler", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}],
    }
    iam.put_role_policy(RoleName="bench-scheduler", PolicyName="send", PolicyDocument=json.dumps(allow))

    started = time.perf_counter()
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": "anchor"} for i in range(min(10, count - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    anchor = time.perf_counter() - started
    drain(sqs, url, count, 120)

    due = math.ceil((time.time() + lead) / 60) * 60
    expression = f"at({datetime.fromtimestamp(due, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"
    for i in range(count):
        scheduler.create_schedule(
            Name=f"due-{i}",
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": arn, "RoleArn": role, "Input": json.dumps({"n": i})},
        )
    if time.time() >= due:
        raise SystemExit(f"creating {count} schedules took past their due time: raise --lead")
    time.sleep(max(0.0, due - time.time()))
    sent = drain(sqs, url, count, 300)
    if len(sent) < count:
        raise SystemExit(f"only {len(sent)} of {count} firings arrived")
    return [moment - due for moment in sent], anchor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=120.0, help="seconds ahead of the due minute, at least")
    args = parser.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    port = free_port()
    env = {"LAMBKIN_ACCESS_KEY_ID": KEY, "LAMBKIN_SECRET_ACCESS_KEY": SECRET, "LAMBKIN_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process)
        lateness, anchor = measure(f"http://127.0.0.1:{port}", args.schedules, args.lead)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    p50, p99 = percentile(lateness, 0.5), percentile(lateness, 0.99)
    print(f"schedules due in the same minute: {args.schedules}")
    print(f"lateness: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms")
    print(
        f"anchor, the client sending the same {args.schedules} messages in batches of 10: {anchor * 1000:.0f} ms"
    )
    print(f"ratio p99/anchor: {p99 / anchor:.2f}; target p99 < 1 s: {'PASS' if p99 < 1.0 else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
