"""EventBridge PutEvents throughput: lambkin against moto's server, the same boto3 client.

Run: .venv/bin/python -m bench.put_events [--clients 8] [--calls 100] [--anchor-seconds 60]

Starts a fresh `lambkin server` and a fresh `moto_server` on loopback ports. On each: a custom bus with one
rule matching every event and a queue as its target, then `--clients` client processes each make `--calls`
PutEvents calls of 10 entries (timed from the moment every process has its client). Prints entries per
second on each server and the ratio lambkin/moto (higher is better), and checks that lambkin's queue got
every event. moto's server slows down as its queue fills (at the default size it may not finish in ten
minutes), so its clients stop after `--anchor-seconds` and its rate counts the calls made by then.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from bench.queue_send_receive import KEY, SECRET, free_port, wait_ready

BUS = "bench"


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def prepare(endpoint: str) -> str:
    """The bus, its rule and its queue target; the queue's URL."""
    sqs, events = client(endpoint, "sqs"), client(endpoint, "events")
    url = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.create_event_bus(Name=BUS)
    events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": [{"prefix": "bench."}]}))
    events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def worker(endpoint: str, index: int, calls: int, ready: Any, seconds: float, made: Any) -> None:
    events = client(endpoint, "events")
    entries = [
        {
            "EventBusName": BUS,
            "Source": f"bench.{index}",
            "DetailType": "Tick",
            "Detail": json.dumps({"n": n}),
        }
        for n in range(10)
    ]
    ready.wait()
    deadline = time.perf_counter() + seconds
    for _ in range(calls):
        answer = events.put_events(Entries=entries)
        assert answer["FailedEntryCount"] == 0, answer
        with made.get_lock():
            made.value += 1
        if time.perf_counter() > deadline:
            break


def throughput(endpoint: str, clients: int, calls: int, seconds: float) -> float:
    """Entries per second of `clients` processes making up to `calls` calls each, for at most `seconds`."""
    from bench import put_events  # by its module name: spawned processes must find the worker

    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    made = context.Value("i", 0)
    processes = [
        context.Process(target=put_events.worker, args=(endpoint, i, calls, ready, seconds, made))
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
        assert process.exitcode == 0
    return made.value * 10 / (time.perf_counter() - started)


def queued(endpoint: str, url: str) -> int:
    attributes = client(endpoint, "sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def run(
    command: list[str],
    ready_path: str,
    env: dict[str, str],
    clients: int,
    calls: int,
    seconds: float = float("inf"),
) -> tuple[float, int]:
    port = free_port()
    process = subprocess.Popen(
        [*command, str(port)], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint + ready_path, process)
        url = prepare(endpoint)
        rate = throughput(endpoint, clients, calls, seconds)
        return rate, queued(endpoint, url)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--anchor-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    try:
        lambkin, delivered = run(
            [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port"],
            "/health",
            {
                "LAMBKIN_ACCESS_KEY_ID": KEY,
                "LAMBKIN_SECRET_ACCESS_KEY": SECRET,
                "LAMBKIN_LOG_LEVEL": "WARNING",
            },
            args.clients,
            args.calls,
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)
    moto, _ = run(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p"],
        "/moto-api/",
        {},
        args.clients,
        args.calls,
        args.anchor_seconds,
    )
    total = args.clients * args.calls * 10
    print(f"PutEvents, {args.clients} client processes x {args.calls} calls of 10 entries ({total} entries):")
    print(f"lambkin: {lambkin:,.0f} entries/s (its queue target got {delivered} of {total})")
    print(f"moto:    {moto:,.0f} entries/s")
    print(f"ratio lambkin/moto: {lambkin / moto:.2f} (higher is better)")
    return 0 if delivered == total else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
