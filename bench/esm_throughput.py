"""Messages per second through an SQS event source mapping (BatchSize 10, a warm function), beside a boto3 loop.

Run: .venv/bin/python -m bench.esm_throughput [--messages N] [--rounds R]

- lambkin: `lambkin server` as a subprocess; the python-handlers image's `batch.report` handler (returns
  no batchItemFailures: every record succeeds) behind a mapping with BatchSize 10. Each round disables the
  mapping, sends N messages, enables it and times from Enabled until the queue is empty (every message
  received by a poller, invoked in its batch, and deleted). A warm-up round first starts the environments.
- anchor: the same N messages sent to a plain queue of the same server, then received (10 at a time) and
  deleted (DeleteMessageBatch) by one boto3 client in a loop — the floor of "consume through the SQS API".
Prints messages/s for both and their ratio (mapping / anchor).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from botocore.config import Config  # noqa: E402
from tests.harness import LambkinServer  # noqa: E402

WORK = ROOT / ".cache" / "bench" / "esm"


def send(sqs: Any, url: str, count: int) -> None:
    def batch(start: int) -> None:
        entries = [
            {"Id": str(i), "MessageBody": f"message {start + i}"} for i in range(min(10, count - start))
        ]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batch, range(0, count, 10)))


def remaining(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(got[names[0]]) + int(got[names[1]])


def wait_state(lam: Any, uuid: str, state: str) -> None:
    while lam.get_event_source_mapping(UUID=uuid)["State"] != state:
        time.sleep(0.01)


def through_mapping(lam: Any, sqs: Any, url: str, uuid: str, count: int) -> float:
    """Seconds from enabling the mapping until `count` messages are consumed and deleted."""
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    wait_state(lam, uuid, "Disabled")
    send(sqs, url, count)
    started = time.perf_counter()
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    while remaining(sqs, url):
        time.sleep(0.005)
    return time.perf_counter() - started


def boto3_loop(sqs: Any, url: str, count: int) -> float:
    send(sqs, url, count)
    started = time.perf_counter()
    done = 0
    while done < count:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if got:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            done += len(got)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tests.e2e.lambda_support import create_active
    from tests.images import BuiltImages, build_all

    build_all()
    shutil.rmtree(WORK, ignore_errors=True)
    server = LambkinServer(WORK / "data").start()
    try:
        lam = server.client("lambda")
        sqs = server.client("sqs", config=Config(max_pool_connections=8))
        uri = BuiltImages().push("python-handlers", server.registry, tag="bench")
        create_active(lam, "esm-bench", uri, ImageConfig={"Command": ["batch.report"]}, MemorySize=512)
        url = sqs.create_queue(QueueName="esm-bench")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="esm-bench", BatchSize=10)[
            "UUID"
        ]
        wait_state(lam, uuid, "Enabled")
        anchor_url = sqs.create_queue(QueueName="esm-bench-anchor")["QueueUrl"]
        through_mapping(lam, sqs, url, uuid, 500)  # warm-up: the environments start here
        mapping_rates: list[float] = []
        anchor_rates: list[float] = []
        for _ in range(args.rounds):
            mapping_rates.append(args.messages / through_mapping(lam, sqs, url, uuid, args.messages))
            anchor_rates.append(args.messages / boto3_loop(sqs, anchor_url, args.messages))
        mapping = max(mapping_rates)
        anchor = max(anchor_rates)
        print(f"messages per round: {args.messages}, rounds: {args.rounds} (best of each shown)")
        print(f"mapping (BatchSize 10, warm function): {mapping:8.0f} msg/s   rounds: "
              + ", ".join(f"{r:.0f}" for r in mapping_rates))  # fmt: skip
        print(f"anchor (boto3 receive+delete loop):    {anchor:8.0f} msg/s   rounds: "
              + ", ".join(f"{r:.0f}" for r in anchor_rates))  # fmt: skip
        print(f"ratio mapping/anchor: {mapping / anchor:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
