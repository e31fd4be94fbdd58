"""Event source mapping scenarios: a 10,000-message migration run, and kill -9 during send-and-consume."""

from __future__ import annotations

import random
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.config import Config

from tests.e2e.test_esm_consume import counts, drain, eventually, function, with_dlq
from tests.harness import LambkinServer

pytestmark = pytest.mark.runc

MESSAGES = 10_000
FAIL_EVERY = 20  # 5% fail on purpose


def random_text(rng: random.Random, index: int, failing: bool) -> str:
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(12))
    return f"{'fail' if failing else 'item'}-{index:05d} {words}"


def send_batch(sqs: Any, url: str, bodies: list[str], refused: list[Any] | None = None) -> list[str]:
    """The bodies SQS acknowledged (entries it refused are added to `refused`)."""
    entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    if refused is not None:
        refused.extend(answer.get("Failed", []))
    return [bodies[int(ok["Id"])] for ok in answer.get("Successful", [])]


def test_migration_ten_thousand_messages_all_accounted_for(server: LambkinServer, handlers_uri: str) -> None:
    lam = server.client("lambda")
    sqs = server.client("sqs", config=Config(max_pool_connections=8))
    url, arn, dlq = with_dlq(sqs, "migration", visibility=2, max_receives=2)
    name = function(lam, handlers_uri, "migration-worker", "batch.report")
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    rng = random.Random(6)
    bodies = [random_text(rng, i, i % FAIL_EVERY == 7) for i in range(MESSAGES)]
    chunks = [bodies[i : i + 10] for i in range(0, MESSAGES, 10)]
    with ThreadPoolExecutor(4) as pool:
        acknowledged = [b for sent in pool.map(lambda c: send_batch(sqs, url, c), chunks) for b in sent]
    assert len(acknowledged) == MESSAGES
    failing = sorted(b for b in bodies if b.startswith("fail"))
    eventually(
        lambda: counts(sqs, url) == (0, 0) and counts(sqs, dlq)[0] == len(failing),
        "every message processed or dead-lettered",
        limit=170,
    )
    # Nothing else deletes from the source queue: what is not in the DLQ was processed and deleted.
    assert sorted(drain(sqs, dlq)) == failing
    assert counts(sqs, url) == (0, 0)


def test_kill_9_during_send_and_consume_loses_no_acknowledged_message(
    server: LambkinServer, handlers_uri: str
) -> None:
    """Every message fails on purpose, so each acknowledged one must end, exactly once, in the DLQ."""
    lam = server.client("lambda")
    url, arn, dlq = with_dlq(server.client("sqs"), "crashy", visibility=2, max_receives=1)
    name = function(lam, handlers_uri, "crashy-worker", "batch.report")
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    total = 1_500
    acknowledged: list[str] = []
    attempted: set[str] = set()
    refused: list[Any] = []
    errors: list[str] = []
    halfway = threading.Event()

    def seed() -> None:
        sqs = server.client(
            "sqs", config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5)
        )
        index = 0
        while index < total:
            chunk = [f"fail-{i:05d}" for i in range(index, min(index + 10, total))]
            attempted.update(chunk)
            try:
                acknowledged.extend(send_batch(sqs, url, chunk, refused))
                index += 10
            except Exception as exc:
                errors.append(repr(exc))
                continue  # the server is down: send the same batch again once it is back
            if index >= total // 3:
                halfway.set()

    seeder = threading.Thread(target=seed)
    seeder.start()
    assert halfway.wait(120)
    server.stop(kill=True)
    server.start()
    seeder.join(180)
    assert not seeder.is_alive()
    sqs = server.client("sqs")
    eventually(lambda: counts(sqs, url) == (0, 0), "the source queue drained", limit=170)
    in_dlq = drain(sqs, dlq)
    assert set(acknowledged) <= set(in_dlq)
    assert set(in_dlq) <= attempted
    assert len(set(acknowledged)) == total, (refused, errors[-3:])
