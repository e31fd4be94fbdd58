"""The event loop's own CPU (LAMBKIN_LOOP_CPU, lambkin/loop_cpu.py) on a real server: its loop thread is
held to the CPU named, its other threads run on every CPU of the host, and functions' sandboxes on every CPU
but the loop's (LAMBKIN_SANDBOX_CPUS), unless their memory buys more vCPUs than those CPUs hold."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

ALL = sorted(os.sched_getaffinity(0))
LOOP_CPU = ALL[-1]
pytestmark = [
    pytest.mark.runc,
    pytest.mark.timeout(600),
    pytest.mark.skipif(len(ALL) < 2, reason="pinning needs two CPUs or more"),
]


@pytest.fixture(scope="module")
def pinned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    data = Path(tmp_path_factory.mktemp("loop-cpu")) / "data"
    instance = LambkinServer(data, env={"LAMBKIN_LOOP_CPU": str(LOOP_CPU)}).start()
    try:
        yield instance
    finally:
        instance.stop()


def threads_cpus(pid: int) -> dict[str, list[int]]:
    """Each thread of process `pid` (its id and name) and the CPUs it may run on."""
    cpus = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        cpus[f"{tid} {name}"] = sorted(os.sched_getaffinity(int(tid)))
    return cpus


def cpus_of_a_function(
    server: LambkinServer, images: BuiltImages, memory_mb: int = 1769, name: str = "where"
) -> list[int]:
    """The CPUs a function's runtime may run on, as it reads them itself."""
    uri = images.push("python-handlers", server.registry, tag="v1")
    lam = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    create_active(lam, name, uri, ImageConfig={"Command": ["app.env"]}, MemorySize=memory_mb)
    answer = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    return list(answer["cpus"])


def test_the_loop_thread_alone_is_held_to_its_cpu_and_functions_keep_off_it(
    pinned_server: LambkinServer, test_images: BuiltImages
) -> None:
    assert cpus_of_a_function(pinned_server, test_images) == [cpu for cpu in ALL if cpu != LOOP_CPU]
    assert pinned_server.process is not None
    pid = pinned_server.process.pid
    threads = threads_cpus(pid)
    loop = next(name for name in threads if name.split()[0] == str(pid))  # the main thread runs the loop
    assert threads.pop(loop) == [LOOP_CPU]
    assert threads  # the store's writer and the pool's workers, started by the pinned loop thread
    assert {name: cpus for name, cpus in threads.items() if cpus != ALL} == {}


BIGGER_THAN_THE_REST = 1769 * (len(ALL) - 1) + 1  # memory that buys more vCPUs than the loop leaves


@pytest.mark.skipif(BIGGER_THAN_THE_REST > 10240, reason="no function is that large")
def test_a_function_that_buys_more_cpus_than_the_loop_leaves_runs_on_every_cpu(
    pinned_server: LambkinServer, test_images: BuiltImages
) -> None:
    assert cpus_of_a_function(pinned_server, test_images, BIGGER_THAN_THE_REST, "large") == ALL


def test_a_cpu_the_process_may_not_use_is_refused_at_start(tmp_path: Path) -> None:
    server = LambkinServer(tmp_path / "data", env={"LAMBKIN_LOOP_CPU": str(max(ALL) + 1000)})
    with pytest.raises(RuntimeError):
        server.start()
    assert f"LAMBKIN_LOOP_CPU={max(ALL) + 1000}: this process may use CPUs" in server.log_path.read_text()


def test_functions_may_be_given_every_cpu(tmp_path: Path, test_images: BuiltImages) -> None:
    env = {"LAMBKIN_LOOP_CPU": str(LOOP_CPU), "LAMBKIN_SANDBOX_CPUS": "all"}
    server = LambkinServer(tmp_path / "data", env=env).start()
    try:
        assert cpus_of_a_function(server, test_images) == ALL  # the loop's CPU too
    finally:
        server.stop()


def test_sandbox_cpus_the_process_may_not_use_are_refused_at_start(tmp_path: Path) -> None:
    server = LambkinServer(tmp_path / "data", env={"LAMBKIN_SANDBOX_CPUS": f"0,{max(ALL) + 1000}"})
    with pytest.raises(RuntimeError):
        server.start()
    assert (
        f"LAMBKIN_SANDBOX_CPUS=0,{max(ALL) + 1000}: this process may use CPUs" in server.log_path.read_text()
    )
