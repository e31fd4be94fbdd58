"""GetFunction and ListFunctions over 1,000 functions: lambkin against moto's server, same boto3 client.

Run: .venv/bin/python -m bench.control_plane [--functions N] [--rounds R]

Starts a fresh `lambkin server` and a fresh `moto_server` on loopback ports, side by side. In each it creates
the same N image functions (moto first gets an IAM role, which its CreateFunction insists on; lambkin gets a
tiny image pushed to its registry so every function settles Active), then runs R rounds, alternating which
server goes first, each round timing with the same kind of boto3 client: GetFunction of every function,
and three full ListFunctions paginations (PageSize 50; moto answers every function in one page regardless),
then three more, each right after a TagResource of one function (a write, which drops what a server keeps of a
listing).
A third server replays lambkin's recorded answers from a bare uvloop + httptools protocol: the floor that the
boto3 client and HTTP cost by themselves. Prints median wall-clock times per call, the ratios lambkin/moto (target <= 0.2),
the same net of the floor, and each server process's CPU seconds per call (robust on a shared machine).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from bench.queue_send_receive import free_port, wait_ready

KEY, SECRET = "LKIABENCH0000000000", "bench-secret-0000000000000000000000000000"
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@dataclass(frozen=True)
class Timings:
    get_function: float  # seconds per GetFunction call
    list_page: float  # seconds per ListFunctions call (one page of up to 50; moto ignores MaxItems)
    list_all: float  # seconds per full pagination of every function
    get_cpu: float  # the server process's CPU seconds per GetFunction call
    list_cpu: float  # the server process's CPU seconds per full pagination
    written_cpu: float  # the same per TagResource of one function and a full pagination after it


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def push_tiny_image(endpoint: str) -> str:
    """A one-layer image pushed with the distribution API (monolithic uploads); returns its URI."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("bench.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"bench"))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/bin/true"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
        }
    ).encode()
    http = httpx.Client(base_url=endpoint, auth=(KEY, SECRET), timeout=30)
    descriptors = []
    for blob, media_type in (
        (config, "application/vnd.oci.image.config.v1+json"),
        (layer, "application/vnd.oci.image.layer.v1.tar+gzip"),
    ):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = http.post("/v2/bench/blobs/uploads/")
        started.raise_for_status()
        location = started.headers["location"]
        joiner = "&" if "?" in location else "?"
        http.put(f"{location}{joiner}digest={digest}", content=blob).raise_for_status()
        descriptors.append({"mediaType": media_type, "digest": digest, "size": len(blob)})
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptors[0],
        "layers": descriptors[1:],
    }
    http.put(
        "/v2/bench/manifests/v1",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
    ).raise_for_status()
    return f"{endpoint.removeprefix('http://')}/bench:v1"


def populate(lam: Any, count: int, image_uri: str, role: str) -> None:
    for index in range(count):
        lam.create_function(
            FunctionName=f"bench-{index:04d}", Role=role, PackageType="Image", Code={"ImageUri": image_uri}
        )


def settle(lam: Any) -> None:
    """Waits until no function is Pending, so background work does not share the measured time."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [
            f.get("State")
            for page in lam.get_paginator("list_functions").paginate()
            for f in page["Functions"]
        ]
        if "Pending" not in states:
            return
        time.sleep(0.5)
    raise TimeoutError("functions still Pending after 300 s")


def measure_get(lam: Any, names: list[str]) -> float:
    """Seconds per GetFunction call, over every function once."""
    started = time.perf_counter()
    for name in names:
        lam.get_function(FunctionName=name)
    return (time.perf_counter() - started) / len(names)


def measure_list(lam: Any, count: int, times: int = 3) -> tuple[float, float]:
    """(seconds per ListFunctions call, seconds per full pagination of every function), over `times` listings."""
    pages = seen = 0
    started = time.perf_counter()
    for _ in range(times):
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 50}):
            pages += 1
            seen += len(page["Functions"])
    elapsed = time.perf_counter() - started
    assert seen == count * times, seen
    return elapsed / pages, elapsed / times


def measure_list_after_write(lam: Any, count: int, times: int = 3) -> None:
    """`times` full paginations, each right after a write of one function in the middle of the listing."""
    arn = lam.get_function(FunctionName=f"bench-{count // 2:04d}")["Configuration"]["FunctionArn"]
    for round_ in range(times):
        lam.tag_resource(Resource=arn, Tags={"round": str(round_)})
        measure_list(lam, count, 1)


@contextmanager
def lambkin_server(count: int) -> Iterator[Any]:
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    port = free_port()
    env = {"LAMBKIN_ACCESS_KEY_ID": KEY, "LAMBKIN_SECRET_ACCESS_KEY": SECRET, "LAMBKIN_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{endpoint}/health", process)
        role = client("iam", endpoint).create_role(RoleName="bench", AssumeRolePolicyDocument=ROLE_POLICY)
        lam = client("lambda", endpoint)
        populate(lam, count, push_tiny_image(endpoint), role["Role"]["Arn"])
        settle(lam)
        yield lam, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def moto_server(count: int) -> Iterator[Any]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{endpoint}/moto-api/", process)
        role = client("iam", endpoint).create_role(RoleName="bench", AssumeRolePolicyDocument=ROLE_POLICY)
        lam = client("lambda", endpoint)
        populate(lam, count, "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:v1", role["Role"]["Arn"])
        yield lam, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def record(lam: Any) -> dict[str, str]:
    """Captures every response body `lam` receives, by request path and query (for the replay server)."""
    bodies: dict[str, str] = {}

    def after(http_response: Any, **_: Any) -> None:
        url = httpx.URL(http_response.url)
        bodies[url.raw_path.decode()] = http_response.content.decode()

    lam.meta.events.register("after-call.lambda.*", after)
    return bodies


def replay_handler(bodies: dict[str, str]) -> Any:
    """Answers each recorded request with its recorded body and nothing else: the floor."""
    encoded = {key: value.encode() for key, value in bodies.items()}
    headers = (("Content-Type", "application/json"),)

    def handle(request: Any, reply: Any) -> None:
        target = request.path + (f"?{request.query}" if request.query else "")
        reply.send(200, encoded.get(target, b"{}"), headers)

    return handle


@contextmanager
def replay_server(bodies: dict[str, str]) -> Iterator[Any]:
    """The recorded lambkin answers served by a bare protocol in its own process: what the client alone costs."""
    recorded = Path(tempfile.mkdtemp(prefix="lambkin-bench-")) / "bodies.json"
    recorded.write_text(json.dumps(bodies))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.control_plane", "--replay", str(recorded), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process)
        yield client("lambda", f"http://127.0.0.1:{port}"), process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(recorded.parent, ignore_errors=True)


def serve_replay(path: Path, port: int) -> None:
    """The least a Python server can do per request: uvloop, httptools (lambkin's http11), a dict lookup."""
    import asyncio

    import uvloop

    from lambkin.http11.handler import HandlerConnection

    handle = replay_handler(json.loads(path.read_text()))

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: HandlerConnection(handle, lambda method, path: 1 << 20), "127.0.0.1", port
        )
        await server.serve_forever()

    uvloop.run(serve())


LABELS = ("lambkin", "moto", "floor")


def run(count: int, rounds: int) -> dict[str, Timings]:
    """All servers up at once; rounds rotate the order so machine noise hits each alike."""
    names = [f"bench-{index:04d}" for index in range(count)]
    samples: dict[str, list[tuple[float, ...]]] = {label: [] for label in LABELS}
    with lambkin_server(count) as (lk, lk_pid), moto_server(count) as (mo, mo_pid):
        bodies = record(lk)
        for lam in (lk, mo):  # warm-up: connections, caches; lambkin's answers are recorded for the floor
            measure_get(lam, names)
            measure_list(lam, count, 1)
        with replay_server(bodies) as (floor, floor_pid):
            clients = {"lambkin": (lk, lk_pid), "moto": (mo, mo_pid), "floor": (floor, floor_pid)}
            for round_ in range(rounds):
                for label in LABELS[round_ % 3 :] + LABELS[: round_ % 3]:
                    lam, pid = clients[label]
                    before = cpu_seconds(pid)
                    get = measure_get(lam, names)
                    middle = cpu_seconds(pid)
                    page, full = measure_list(lam, count)
                    after = cpu_seconds(pid)
                    if label != "floor":  # the floor has nothing to write
                        measure_list_after_write(lam, count)
                    written = cpu_seconds(pid)
                    samples[label].append(
                        (
                            get,
                            page,
                            full,
                            (middle - before) / len(names),
                            (after - middle) / 3,
                            (written - after) / 3,
                        )
                    )
    return {label: _median(rows) for label, rows in samples.items()}


def _median(rows: list[tuple[float, ...]]) -> Timings:
    return Timings(*(statistics.median(column) for column in zip(*rows, strict=True)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay is not None:
        serve_replay(args.replay, args.port)
        return 0
    results = run(args.functions, args.rounds)
    lk, mo, floor = results["lambkin"], results["moto"], results["floor"]
    print(
        f"functions: {args.functions}; {args.rounds} rotating rounds of GetFunction of each function and three "
        "full ListFunctions paginations (PageSize 50); medians"
    )
    print(
        "floor = lambkin's recorded answers replayed by a bare uvloop+httptools protocol: the boto3 client + HTTP alone"
    )
    print(f"{'':9}{'GetFunction':>14}{'ListFunctions call':>20}{'full listing':>15}")
    for label, t in (("lambkin", lk), ("moto", mo), ("floor", floor)):
        print(
            f"{label:9}{t.get_function * 1e3:11.2f} ms{t.list_page * 1e3:17.2f} ms{t.list_all * 1e3:12.1f} ms"
        )
    ratios = {
        "GetFunction (per call)": (lk.get_function, mo.get_function, floor.get_function),
        "ListFunctions (per call)": (lk.list_page, mo.list_page, floor.list_page),
        "ListFunctions (full listing)": (lk.list_all, mo.list_all, floor.list_all),
    }
    for name, (ours, theirs, base) in ratios.items():
        ratio = ours / theirs
        net = max(ours - base, 0.0) / max(theirs - base, 1e-9)
        verdict = "PASS" if ratio <= 0.2 else "MISS"
        print(
            f"ratio lambkin/moto {name}: {ratio:.3f} (target <= 0.2) {verdict}; server time net of floor: {net:.3f}"
        )
    print("server process CPU (user+system), the figure the shared machine's load does not distort:")
    for label, t in (("lambkin", lk), ("moto", mo), ("floor", floor)):
        after_write = f"   {t.written_cpu * 1e3:8.1f} ms per write + full listing" if label != "floor" else ""
        print(
            f"  {label:8} {t.get_cpu * 1e3:7.3f} ms per GetFunction   {t.list_cpu * 1e3:8.1f} ms per full listing"
            + after_write
        )
    print(
        f"ratio lambkin/moto server CPU: GetFunction {lk.get_cpu / mo.get_cpu:.3f}, "
        f"full listing {lk.list_cpu / mo.list_cpu:.3f}, "
        f"write + full listing {lk.written_cpu / mo.written_cpu:.3f} (target <= 0.2)"
    )
    print(f"host load average: {Path('/proc/loadavg').read_text().split()[0]} (2 cores, shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
