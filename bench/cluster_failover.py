"""Failover of async work: the time from `kill -9` of the node dispatching a function's events to those
events running again on the survivor.

Run: .venv/bin/python -m bench.cluster_failover [--events N] [--gone-after S]

Starts its own PostgreSQL (tests/postgres.py) and two nodes, a and b (LAMBKIN_NODE_GONE_AFTER_S = S,
heartbeats every second), each with the python-handlers image pushed to its own registry. A function (its
async events owned by node a) sleeps 0.3 s per event, one event at a time (LAMBKIN_ASYNC_CONCURRENCY=1),
and sends each record to an SQS queue (owned by a too); each node's environment is warmed by a sync invoke.
N events are accepted through b, then node a is killed with SIGKILL while it works through them. Prints
the time from the kill to the first event finished on b (the records' own timestamps), the time until every
accepted event was delivered, and the ratio of the first to S (the anchor: a node is declared gone S seconds
after its last heartbeat, so S less a heartbeat is the floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.harness import LambkinServer

from lambkin.cluster.rendezvous import owner

NODES = ["a", "b"]


def ranked_first(node: str, prefix: str) -> str:
    return next(n for n in (f"{prefix}-{i}" for i in range(1000)) if owner(n, NODES) == node)


def record_time(body: str) -> tuple[str, float]:
    record = json.loads(body)
    stamp = dt.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return record["requestContext"]["requestId"], stamp.timestamp()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster_failover")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--gone-after", type=float, default=10.0)
    args = parser.parse_args(argv)
    from tests.e2e.lambda_support import allow_destinations, create_active
    from tests.images import push
    from tests.postgres import PostgresServer

    pg = PostgresServer().start()
    root = Path(tempfile.mkdtemp(prefix="lambkin-failover-"))
    database = pg.create_database("failover")
    env = {
        "LAMBKIN_DATABASE_URL": database,
        "LAMBKIN_NODE_GONE_AFTER_S": str(args.gone_after),
        "LAMBKIN_ASYNC_CONCURRENCY": "1",
        "LAMBKIN_LOG_LEVEL": "WARNING",
    }
    nodes = {name: LambkinServer(root / name, env={**env, "LAMBKIN_NODE_NAME": name}) for name in NODES}
    try:
        for node in nodes.values():
            node.start(timeout=120)
        a, b = nodes["a"], nodes["b"]
        from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY

        for node in (a, b):
            uri = push("python-handlers", node.registry, (ACCESS_KEY_ID, SECRET_ACCESS_KEY), tag="v1")
        function, queue = ranked_first("a", "failover"), ranked_first("a", "records")
        sqs = b.client("sqs")
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        allow_destinations(b.endpoint)
        lam: Any = b.client("lambda")
        create_active(lam, function, uri, Timeout=30, ImageConfig={"Command": ["app.timeout"]})
        for node in (a, b):  # an environment warm on each node (a sync invoke runs where it arrives)
            node.client("lambda").invoke(FunctionName=function, Payload=json.dumps({"seconds": 0}))
        lam.put_function_event_invoke_config(
            FunctionName=function, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )
        accepted = set()
        for i in range(args.events):
            payload = json.dumps({"seconds": 0.3, "n": i})
            answer = lam.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
            accepted.add(answer["ResponseMetadata"]["RequestId"])
        time.sleep(1.0)  # node a is working through them
        killed = time.time()
        a.stop(kill=True)
        finished: dict[str, float] = {}
        deadline = time.monotonic() + 10 * args.gone_after + 120
        while not accepted <= finished.keys() and time.monotonic() < deadline:
            try:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # the queue is changing hands: retried
                time.sleep(0.2)
                continue
            for message in messages.get("Messages", []):
                request_id, at = record_time(message["Body"])
                finished.setdefault(request_id, at)
            if messages.get("Messages"):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages["Messages"])
                    ],
                )
        after = sorted(at for at in finished.values() if at > killed)
        if not after or not accepted <= finished.keys():
            print(
                f"FAIL: {len(accepted - finished.keys())} of {len(accepted)} accepted events never finished"
            )
            return 1
        resumed, done = after[0] - killed, after[-1] - killed
    finally:
        for node in nodes.values():
            node.stop(kill=True)
        pg.remove()
    print(
        f"async failover, {args.events} events of 0.3 s, one at a time; node gone after {args.gone_after:.0f} s"
    )
    print(f"kill -9 to the first event finished on the survivor: {resumed:.2f} s")
    print(f"kill -9 to every accepted event delivered: {done:.2f} s ({len(after)} finished after the kill)")
    print(
        f"ratio first/gone-after: {resumed / args.gone_after:.2f} (the floor is 1.0: detection of a gone node)"
    )
    print(
        json.dumps(
            {
                "bench": "cluster_failover",
                "resumed_s": resumed,
                "done_s": done,
                "gone_after_s": args.gone_after,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
