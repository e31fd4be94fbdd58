"""Three nodes behind HAProxy: every node is balanced, a function created via one node runs via every node and
through HAProxy, and reserved concurrency holds across nodes as the function itself measures it."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from botocore.config import Config

from tests.cluster import Cluster
from tests.cluster.functions import most_at_once, probe_function
from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY

# Three nodes' cold starts (each unpacks the image) on a loaded machine take minutes, the fixture's included.
pytestmark = [pytest.mark.runc, pytest.mark.timeout(900)]

RESERVED = 5
CALLERS = 30
CALLS_EACH = 3


def test_every_node_is_ready_and_haproxy_balances_requests_over_all_of_them(cluster: Cluster) -> None:
    for node in cluster.nodes.values():
        answer = httpx.get(f"{node.endpoint}/health")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert cluster.haproxy.up() == set(cluster.nodes)
    sqs = cluster.client("sqs")
    for _ in range(6):  # round robin: each node answers some of them, all alike
        assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="none-such")


def test_a_console_session_signed_in_on_one_node_is_known_to_every_node(cluster: Cluster) -> None:
    first, *others = cluster.nodes.values()
    creds = {"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}
    signed_in = httpx.post(f"{first.endpoint}/console/sign-in", data=creds)
    assert signed_in.status_code == 303
    cookies = signed_in.cookies
    for node in others:
        page = httpx.get(f"{node.endpoint}/console/functions", cookies=cookies)
        assert page.status_code == 200 and "Sign out" in page.text
    httpx.post(f"{others[0].endpoint}/console/sign-out", cookies=cookies)
    gone = httpx.get(f"{first.endpoint}/console/functions", cookies=cookies)
    assert (gone.status_code, gone.headers["location"]) == (303, "/console/sign-in")


def test_a_function_created_via_one_node_is_invoked_via_every_node(
    cluster: Cluster, handlers_uri: str
) -> None:
    config = Config(read_timeout=120, retries={"max_attempts": 0})
    first, *others = cluster.nodes.values()
    create_active(first.client("lambda", config=config), "everywhere", handlers_uri)
    for node in [first, *others]:
        lam = node.client("lambda", config=config)
        answer = lam.invoke(FunctionName="everywhere", Payload=json.dumps({"via": node.port}).encode())
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == {"via": node.port}
    lam = cluster.client("lambda", config=config)
    for n in range(6):  # through HAProxy: round robin over the three
        answer = lam.invoke(FunctionName="everywhere", Payload=json.dumps({"n": n}).encode())
        assert json.loads(answer["Payload"].read()) == {"n": n}


def test_every_node_reads_the_logs_of_every_node(cluster: Cluster, handlers_uri: str) -> None:
    """An environment's log lives on its node; the Logs API of each node reads them all (here, HAProxy's
    round robin sends the invokes to all three and placement runs them on their home nodes)."""
    config = Config(read_timeout=120, retries={"max_attempts": 0})
    lam = cluster.client("lambda", config=config)
    create_active(lam, "logged-everywhere", handlers_uri, ImageConfig={"Command": ["app.log"]})
    requests = []
    for n in range(6):
        answer = lam.invoke(
            FunctionName="logged-everywhere", Payload=json.dumps({"lines": [f"n={n}"]}).encode()
        )
        requests.append(answer["ResponseMetadata"]["RequestId"])
    group = "/aws/lambda/logged-everywhere"
    seen = []
    for node in cluster.nodes.values():
        logs = node.client("logs")
        assert group in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        streams = sorted(
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
        )
        seen.append(streams)
        starts = logs.filter_log_events(logGroupName=group, filterPattern="START")["events"]
        assert {e["message"].split()[2] for e in starts} >= set(requests)
        lines = logs.filter_log_events(logGroupName=group, filterPattern="n=")["events"]
        assert sorted(e["message"] for e in lines) == sorted(f"n={n}" for n in range(6))
        every = [
            e["message"]
            for stream in streams
            for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        ]
        assert {f"END RequestId: {r}" for r in requests} <= set(every)
    assert seen[0] and all(streams == seen[0] for streams in seen)


def test_reserved_concurrency_is_never_exceeded_across_nodes(cluster: Cluster, handlers_uri: str) -> None:
    lam = cluster.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    probe_function(lam, "reserved-span", handlers_uri, "span")
    lam.put_function_concurrency(FunctionName="reserved-span", ReservedConcurrentExecutions=RESERVED)
    spans: list[tuple[float, float]] = []
    throttles: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CALLERS)

    def caller() -> None:
        client = cluster.client(
            "lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}, max_pool_connections=2)
        )
        start.wait()
        for _ in range(CALLS_EACH):
            try:
                answer = client.invoke(FunctionName="reserved-span", Payload=b'{"seconds": 1}')
            except client.exceptions.TooManyRequestsException as exc:
                with lock:
                    throttles.append(exc.response)
                continue
            except Exception as exc:  # reported below, with the others
                with lock:
                    failures.append(repr(exc))
                continue
            body = json.loads(answer["Payload"].read())
            with lock:
                if "FunctionError" in answer:
                    failures.append(json.dumps(body))
                else:
                    spans.append((body["start"], body["end"]))
        client.close()

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(spans) + len(throttles) == CALLERS * CALLS_EACH
    assert spans and throttles  # the limit was reached, and work was done under it
    assert most_at_once(spans) <= RESERVED
    for throttle in throttles:
        assert throttle["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert throttle["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
