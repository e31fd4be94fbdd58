"""SQS send 1,000 then receive+delete in batches of 10: lambkin against moto's server, same boto3 client.

Run: .venv/bin/python -m bench.queue_send_receive [--messages N] [--clients C,C,...] [--per-client M]

Starts a fresh `lambkin server` and a fresh `moto_server` on loopback ports, runs the identical boto3
sequence against each (SendMessage one by one, then ReceiveMessage with MaxNumberOfMessages=10 and
DeleteMessageBatch until every message is back), and prints both times and the ratio lambkin/moto
(target <= 0.1). Checks that every message came back exactly once.

Then lambkin's throughput with several client processes using the batch APIs (SendMessageBatch,
ReceiveMessage of 10, DeleteMessageBatch), each on its own queue: messages sent, received and deleted per
second over the whole run (target >= 5,000 on the 2-core reference machine), with boto3 clients and with
lean ones (LeanClient: the same requests without the SDK's weight), at 4, 8 and 16 client processes. Each
client waits for every answer, so few clients leave the server idle between requests; the server's
throughput is the best rate over those loads.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "LKIABENCH0000000000", "bench-secret-0000000000000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180  # a server starts slowly on a machine other work loads
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not start")


def client(endpoint: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def sequence(endpoint: str, count: int) -> tuple[float, float]:
    """Seconds to send `count` messages, and to receive and delete them all in batches of 10."""
    sqs = client(endpoint)
    url = sqs.create_queue(QueueName="bench")["QueueUrl"]
    started = time.perf_counter()
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {i}")
    sent = time.perf_counter()
    seen: set[str] = set()
    while len(seen) < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            continue
        seen.update(m["Body"] for m in messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        result = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        assert not result.get("Failed"), result
    done = time.perf_counter()
    assert seen == {f"message {i}" for i in range(count)}
    return sent - started, done - sent


def batch_worker(endpoint: str, name: str, count: int, ready: Any) -> None:
    """One client process: send `count` messages in batches of 10, then receive and delete them all."""
    sqs = client(endpoint)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    ready.wait()  # every process is started and has its client: the clock starts now
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": f"{name} {start + i}"} for i in range(10)]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    received = 0
    while received < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        received += len(messages)
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            assert not sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed")


class LeanClient:
    """The SQS JSON protocol with no SDK around it: botocore's SigV4 signer, a raw socket, json. A load
    generator of this weight leaves the machine's cores to the server, which is what a server's throughput
    needs: requests that do not depend on an answer are signed before the clock starts."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.signer = SigV4Auth(Credentials(KEY, SECRET), "sqs", "us-east-1")
        parts = urlsplit(endpoint)
        self.host = f"{parts.hostname}:{parts.port}"
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def signed(self, action: str, params: dict[str, Any]) -> bytes:
        """The whole request, signed now (valid for 15 minutes, and as often as it is sent)."""
        body = json.dumps(params).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}"}
        request = AWSRequest("POST", self.endpoint + "/", data=body, headers=headers)
        self.signer.add_auth(request)
        head = f"POST / HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        return (head + "\r\n").encode() + body

    def send(self, request: bytes) -> dict[str, Any]:
        """Sends a signed request and reads its answer (Content-Length framed, as lambkin answers)."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(262144)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(rest) < length:
            rest += self.sock.recv(262144)
        self.buffer = rest[length:]
        answer: dict[str, Any] = json.loads(rest[:length])
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{head[:40]!r} {answer}")
        return answer

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.send(self.signed(action, params))


def lean_worker(
    endpoint: str, name: str, count: int, ready: Any, key: tuple[str, str, str | None] | None = None
) -> None:
    """batch_worker's sequence through a LeanClient; sends and receives are signed before the clock starts,
    deletes (which carry the receipts just received) as they go. `key`: the (access key ID, secret, session
    token) to sign with instead of the server's own."""
    sqs = LeanClient(endpoint)
    if key is not None:
        sqs.signer = SigV4Auth(Credentials(*key), "sqs", "us-east-1")
    url = sqs.call("CreateQueue", {"QueueName": name})["QueueUrl"]
    sends = [
        sqs.signed(
            "SendMessageBatch",
            {
                "QueueUrl": url,
                "Entries": [{"Id": str(i), "MessageBody": f"{name} {start + i}"} for i in range(10)],
            },
        )
        for start in range(0, count, 10)
    ]
    receive = sqs.signed("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    ready.wait()
    for request in sends:
        assert not sqs.send(request).get("Failed")
    received = 0
    while received < count:
        messages = sqs.send(receive).get("Messages", [])
        received += len(messages)
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            assert not sqs.call("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries}).get("Failed")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    endpoint: str, clients: int, per_client: int, server_pid: int, lean: bool = False
) -> tuple[float, float]:
    """Messages per second through send, receive and delete with `clients` processes at once (timed from
    the moment every process has its client), and the server's CPU seconds over that run."""
    from bench import queue_send_receive  # by its module name: spawned processes must find the worker

    worker_function = queue_send_receive.lean_worker if lean else queue_send_receive.batch_worker
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    prefix = f"lean{clients}-" if lean else f"tp{clients}-"
    workers = [
        context.Process(target=worker_function, args=(endpoint, f"{prefix}{i}", per_client, ready))
        for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    elapsed, server_cpu = time.perf_counter() - started, cpu_seconds(server_pid) - cpu_before
    return clients * per_client / elapsed, server_cpu


Load = tuple[str, int, float, float]  # client kind, client processes, messages/s, server CPU seconds


def run_lambkin(count: int, client_counts: list[int], per_client: int = 0) -> tuple[float, float, list[Load]]:
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    port = free_port()
    env = {"LAMBKIN_ACCESS_KEY_ID": KEY, "LAMBKIN_SECRET_ACCESS_KEY": SECRET, "LAMBKIN_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process)
        send, drain = sequence(f"http://127.0.0.1:{port}", count)
        endpoint = f"http://127.0.0.1:{port}"
        loads: list[Load] = []
        for kind, lean in (("boto3", False), ("lean", True)):
            for clients in client_counts:
                rate, server_cpu = throughput(endpoint, clients, per_client, process.pid, lean=lean)
                loads.append((kind, clients, rate, server_cpu))
        return send, drain, loads
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def run_moto(count: int) -> tuple[float, float]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/moto-api/", process)
        return sequence(f"http://127.0.0.1:{port}", count)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--clients", default="4,8,16", help="client process counts, comma-separated")
    parser.add_argument("--per-client", type=int, default=5000)
    args = parser.parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",") if c.strip() and int(c)]
    lk_send, lk_drain, loads = run_lambkin(args.messages, client_counts, args.per_client)
    moto_send, moto_drain = run_moto(args.messages)
    lk, moto = lk_send + lk_drain, moto_send + moto_drain
    print(f"messages: {args.messages} (send one by one; receive 10 + delete batch)")
    print(f"lambkin: {lk:.2f} s  (send {lk_send:.2f} s, receive+delete {lk_drain:.2f} s)")
    print(f"moto:    {moto:.2f} s  (send {moto_send:.2f} s, receive+delete {moto_drain:.2f} s)")
    ratio = lk / moto
    print(f"ratio lambkin/moto: {ratio:.3f} (target <= 0.1) {'PASS' if ratio <= 0.1 else 'MISS'}")
    if loads:
        print(
            f"throughput, client processes x {args.per_client} messages each, sent, received and deleted in "
            "batches of 10:"
        )
        for kind, clients, rate, server_cpu in loads:
            total = clients * args.per_client
            print(
                f"  {kind:5} x {clients:2}: {rate:,.0f} messages/s ({3 * rate:,.0f} message operations/s); "
                f"server CPU {1e6 * server_cpu / total:.0f} us per message"
            )
        best = max(loads, key=lambda load: load[2])
        verdict = "PASS" if best[2] >= 5000 else "MISS"
        print(
            f"server throughput (best over those loads): {best[2]:,.0f} messages/s with {best[1]} {best[0]} "
            f"client processes (target >= 5,000) {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
