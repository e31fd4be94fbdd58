"""The runc sandbox backend on real containers: limits, isolation, output, lifecycle, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lambkin.loop_cpu import SandboxCpus
from lambkin.sandbox import overlay
from lambkin.sandbox.runc import RuncBackend, RuncSandbox
from lambkin.sandbox.spec import SandboxSpec
from lambkin.testing.sandbox import busybox_layer

pytestmark = [
    pytest.mark.runc,
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"),
]

REPO = Path(__file__).resolve().parents[2]


class Output:
    """Collects one stream's chunks; `until()` waits for some text to appear."""

    def __init__(self) -> None:
        self.data = b""
        self._changed = asyncio.Event()

    def __call__(self, chunk: bytes) -> None:
        self.data += chunk
        self._changed.set()

    @property
    def text(self) -> str:
        return self.data.decode()

    async def until(self, needle: str) -> str:
        async with asyncio.timeout(20):
            while needle not in self.text:
                self._changed.clear()
                await self._changed.wait()
        return self.text


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_layer(tmp_path_factory.mktemp("busybox") / "layer")


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[RuncBackend]:
    backend = RuncBackend(tmp_path / "data")
    yield backend
    await backend.cleanup_leftovers()


def spec(layer: Path, script: str, name: str = "sbx", **limits: Any) -> SandboxSpec:
    return SandboxSpec(
        id=name,
        lower_dirs=(layer,),
        args=("/bin/sh", "-c", script),
        env=(("PATH", "/bin"), ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")),
        **limits,
    )


async def run(backend: RuncBackend, layer: Path, script: str, **limits: Any) -> tuple[int | None, str, str]:
    """Runs `script` to its end in a fresh sandbox; returns its exit code, stdout and stderr."""
    out, err = Output(), Output()
    sandbox = await backend.create(spec(layer, script, **limits), out, err)
    try:
        await sandbox.start()
        status = await sandbox.wait()
    finally:
        await sandbox.destroy()
    return status.code, out.text, err.text


async def serve(sandbox: RuncSandbox, body: bytes, port: int = 9001) -> asyncio.Server:
    """Answers every HTTP request on one of the sandbox's sockets with `body`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, sock=sandbox.listeners[port])


async def test_runs_the_process_as_the_non_root_user(backend: RuncBackend, layer: Path) -> None:
    code, out, _ = await run(backend, layer, "id -u; id -g; grep CapEff /proc/self/status")
    assert code == 0
    uid, gid, caps = out.splitlines()
    assert (uid, gid) == ("993", "990")
    assert caps.split()[1] == "0000000000000000"


async def test_exit_code_and_both_streams_are_reported(backend: RuncBackend, layer: Path) -> None:
    code, out, err = await run(backend, layer, "echo to-stdout; echo to-stderr >&2; exit 3")
    assert (code, out, err) == (3, "to-stdout\n", "to-stderr\n")


async def test_the_process_is_not_pid_1_so_a_signal_to_itself_kills_it(
    backend: RuncBackend, layer: Path
) -> None:
    out = Output()
    sandbox = await backend.create(spec(layer, "echo pid=$$; kill -KILL $$; sleep 5"), out, Output())
    try:
        await sandbox.start()
        status = await sandbox.wait()
    finally:
        await sandbox.destroy()
    assert out.text.startswith("pid=") and out.text != "pid=1\n"
    assert (status.code, status.signal) == (None, signal.SIGKILL)
    assert status.describe() == "signal: killed"


async def test_root_is_read_only_and_tmp_is_writable_of_the_given_size(
    backend: RuncBackend, layer: Path
) -> None:
    script = "touch /bin/x 2>&1; echo hi > /tmp/f && cat /tmp/f; df -k /tmp | tail -1"
    code, out, _ = await run(backend, layer, script, tmp_size_mb=16)
    lines = out.splitlines()
    assert code == 0
    assert "Read-only file system" in lines[0]
    assert lines[1] == "hi"
    assert 14 * 1024 < int(lines[2].split()[1]) <= 16 * 1024  # less the file system's own metadata


async def test_many_layers_stack_top_most_first(backend: RuncBackend, layer: Path, tmp_path: Path) -> None:
    layers = []
    for n in range(150):  # their paths are far longer than the one page mount(2) options allow
        extra = tmp_path / ("a-rather-long-directory-name-for-layer-number-" + "x" * 20) / f"{n:03}"
        extra.mkdir(parents=True)
        (extra / "which").write_text(f"layer {n}\n")
        layers.append(extra)
    out = Output()
    sandbox = await backend.create(
        SandboxSpec(id="layers", lower_dirs=(*layers, layer), args=("/bin/cat", "/which"), env=()),
        out,
        Output(),
    )
    try:
        await sandbox.start()
        assert (await sandbox.wait()).code == 0
    finally:
        await sandbox.destroy()
    assert out.text == "layer 0\n"


async def test_memory_limit_kills_an_allocator(backend: RuncBackend, layer: Path) -> None:
    sandbox = await backend.create(
        SandboxSpec(
            id="hungry",
            lower_dirs=(layer,),
            args=("/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"),
            env=(),
            memory_mb=64,
        ),
        Output(),
        Output(),
    )
    try:
        await sandbox.start()
        status = await sandbox.wait()
        assert sandbox.max_memory_bytes() > 32 * 1024 * 1024
    finally:
        await sandbox.destroy()
    assert (status.signal, status.oom_killed) == (signal.SIGKILL, True)
    assert status.describe() == "signal: killed"


async def test_pids_limit_stops_a_fork_bomb(backend: RuncBackend, layer: Path) -> None:
    script = "for i in $(seq 40); do sleep 60 & done 2>&1"
    code, out, _ = await run(backend, layer, script, pids_limit=16)
    assert code != 0
    assert "can't fork" in out


async def test_open_files_limit(backend: RuncBackend, layer: Path) -> None:
    _, out, _ = await run(backend, layer, "ulimit -n", nofile_limit=1024)
    assert out.strip() == "1024"


async def test_init_cpu_boost_ends_with_the_proportional_quota(backend: RuncBackend, layer: Path) -> None:
    sandbox = await backend.create(
        spec(layer, "sleep 600", memory_mb=128, init_cpu_boost=True), Output(), Output()
    )
    quota = backend.layout.cgroup(sandbox.id).directories()
    try:
        await sandbox.start()
        cpu = Path("/sys/fs/cgroup/cpu") / backend.layout.cgroup(sandbox.id).path
        cores = os.cpu_count() or 1
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 100_000 * cores
        await sandbox.end_init()
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 7_235
        await sandbox.end_init()  # once only
    finally:
        await sandbox.destroy()
    assert quota == []  # no cgroup before start


CPUS_ALLOWED = "while :; do grep Cpus_allowed_list /proc/self/status; sleep 0.05; done"


async def cpus_and_quota(tmp_path: Path, layer: Path, cpus: SandboxCpus, memory_mb: int) -> tuple[str, int]:
    """The CPUs a sandbox of `memory_mb` made with `cpus` may run on (as it reads them) and its CPU quota."""
    backend = RuncBackend(tmp_path / "data", cpus=cpus)
    out = Output()
    sandbox = await backend.create(spec(layer, CPUS_ALLOWED, memory_mb=memory_mb), out, Output())
    try:
        await sandbox.start()
        first = (await out.until("\n")).splitlines()[0]
        cgroup = backend.layout.cgroup(sandbox.id).path
        quota = int((Path("/sys/fs/cgroup/cpu") / cgroup / "cpu.cfs_quota_us").read_text())
    finally:
        await sandbox.destroy()
        await backend.cleanup_leftovers()
    return first.split(":")[1].strip(), quota


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs or more")
async def test_a_cpu_set_holds_the_sandbox_and_caps_its_quota(tmp_path: Path, layer: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    held = SandboxCpus(frozenset({cpu}), held=True)  # an operator's list
    # 3,538 MB: two vCPUs' worth, capped at the one CPU it may use
    assert await cpus_and_quota(tmp_path, layer, held, 3538) == (str(cpu), 100_000)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs or more")
async def test_a_boosted_init_runs_on_every_cpu_and_then_on_the_set(tmp_path: Path, layer: Path) -> None:
    everyone = sorted(os.sched_getaffinity(0))
    cpu = everyone[0]
    backend = RuncBackend(tmp_path / "data", cpus=SandboxCpus(frozenset({cpu}), held=True))
    out = Output()
    sandbox = await backend.create(
        spec(layer, CPUS_ALLOWED, memory_mb=3538, init_cpu_boost=True), out, Output()
    )
    cpu_dir = Path("/sys/fs/cgroup/cpu") / backend.layout.cgroup(sandbox.id).path
    try:
        await sandbox.start()
        during_init = (await out.until("\n")).splitlines()[0].split(":")[1].strip()
        init_quota = int((cpu_dir / "cpu.cfs_quota_us").read_text())
        await sandbox.end_init()
        await out.until(f"Cpus_allowed_list:\t{cpu}\n")
        steady_quota = int((cpu_dir / "cpu.cfs_quota_us").read_text())
    finally:
        await sandbox.destroy()
        await backend.cleanup_leftovers()
    assert during_init == f"{everyone[0]}-{everyone[-1]}"
    assert init_quota == 100_000 * (os.cpu_count() or 1)
    assert steady_quota == 100_000


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs or more")
async def test_beside_the_loop_a_function_that_buys_more_cpus_than_the_set_runs_on_every_cpu(
    tmp_path: Path, layer: Path
) -> None:
    everyone = sorted(os.sched_getaffinity(0))
    beside = SandboxCpus(frozenset(everyone[:1]), held=False)  # as under auto, the loop on the others
    # two vCPUs' worth, on the loop's CPU too
    assert await cpus_and_quota(tmp_path, layer, beside, 3538) == (f"{everyone[0]}-{everyone[-1]}", 200_000)


async def test_runtime_api_is_on_the_sandbox_loopback(backend: RuncBackend, layer: Path) -> None:
    out = Output()
    script = 'wget -qO- "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"'
    sandbox = await backend.create(spec(layer, script), out, Output())
    try:
        assert sandbox.runtime_api_socket.getsockname() == ("127.0.0.1", 9001)
        server = await serve(sandbox, b"an event")
        async with server:
            await sandbox.start()
            status = await sandbox.wait()
    finally:
        await sandbox.destroy()
    assert (status.code, out.text) == (0, "an event")


async def test_lambkin_can_connect_to_a_server_inside(backend: RuncBackend, layer: Path) -> None:
    out = Output()
    sandbox = await backend.create(spec(layer, "echo listening; echo hello | nc -l -p 8080"), out, Output())
    try:
        await sandbox.start()
        await out.until("listening")
        while True:
            try:
                sock = await sandbox.connect(8080)
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.01)  # nc not listening yet
        with sock:
            assert await asyncio.to_thread(sock.recv, 100) == b"hello\n"
    finally:
        await sandbox.destroy()


async def test_host_loopback_is_not_reachable(backend: RuncBackend, layer: Path) -> None:
    connected = asyncio.Event()

    async def note(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    host = await asyncio.start_server(note, "127.0.0.1", 0)
    port = host.sockets[0].getsockname()[1]
    async with host:
        script = f"nc -w 2 127.0.0.1 {port} </dev/null && echo reached; echo done; cat /proc/net/dev"
        _, out, _ = await run(backend, layer, script)
    assert "reached" not in out
    assert "done" in out
    assert not connected.is_set()
    interfaces = [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]
    assert interfaces == ["lo"]


async def test_sandboxes_cannot_reach_each_other(backend: RuncBackend, layer: Path) -> None:
    outputs = {name: Output() for name in ("a", "b")}
    script = "wget -qO- http://127.0.0.1:9001/; echo; wget -qO- http://127.0.0.1:9002/ 2>&1; echo"
    sandboxes = {
        name: await backend.create(
            SandboxSpec(
                id=name,
                lower_dirs=(layer,),
                args=("/bin/sh", "-c", script),
                env=(("PATH", "/bin"),),
                extra_ports=(9002,) if name == "b" else (),
            ),
            outputs[name],
            Output(),
        )
        for name in ("a", "b")
    }
    try:
        servers = [await serve(sandbox, f"I am {name}".encode()) for name, sandbox in sandboxes.items()]
        servers.append(await serve(sandboxes["b"], b"b's extra port", port=9002))
        for sandbox in sandboxes.values():
            await sandbox.start()
        for sandbox in sandboxes.values():
            await sandbox.wait()
        for server in servers:
            server.close()
    finally:
        for sandbox in sandboxes.values():
            await sandbox.destroy()
    a_lines = outputs["a"].text.splitlines()
    assert a_lines[0] == "I am a"
    assert "Connection refused" in a_lines[1]
    assert outputs["b"].text.splitlines() == ["I am b", "b's extra port"]


async def test_host_files_are_not_visible(backend: RuncBackend, layer: Path, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("s3cr3t")
    script = f"cat {secret} 2>&1; ls /; cat /etc/hosts"
    _, out, _ = await run(backend, layer, script)
    assert "s3cr3t" not in out
    assert "No such file" in out
    assert "localhost" in out


async def test_freeze_stops_the_processes_and_thaw_resumes_them(backend: RuncBackend, layer: Path) -> None:
    out = Output()
    script = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.01; done"
    sandbox = await backend.create(spec(layer, script), out, Output())
    try:
        await sandbox.start()
        await out.until("3\n")
        await sandbox.freeze()
        await asyncio.sleep(0.05)  # let the loop read what was written before the freeze
        frozen_at = out.text
        await asyncio.sleep(0.3)
        assert out.text == frozen_at
        await sandbox.thaw()
        last = int(frozen_at.split()[-1])
        await out.until(f"\n{last + 2}\n")
    finally:
        await sandbox.destroy()


async def test_destroy_leaves_nothing_behind(backend: RuncBackend, layer: Path) -> None:
    sandbox = await backend.create(spec(layer, "sleep 600", extra_ports=(9002,)), Output(), Output())
    await sandbox.start()
    await sandbox.freeze()
    namespace = os.fstat(sandbox._namespace.fd).st_ino
    bundle = backend.layout.bundle(sandbox.id)
    cgroups = backend.layout.cgroup(sandbox.id).directories()
    assert cgroups
    api = sandbox.runtime_api_socket

    await asyncio.gather(sandbox.destroy(), sandbox.destroy())  # the second waits for the first
    await sandbox.destroy()  # idempotent

    status = await sandbox.wait()
    assert status.signal == signal.SIGKILL
    assert str(bundle) not in _mounts()
    assert not bundle.exists()
    assert not any(path.exists() for path in cgroups)
    assert not (backend.layout.runc_root / sandbox.id).exists()
    assert api.fileno() == -1
    assert namespace not in _network_namespaces()


async def test_destroy_before_start(backend: RuncBackend, layer: Path) -> None:
    sandbox = await backend.create(spec(layer, "true"), Output(), Output())
    bundle = backend.layout.bundle(sandbox.id)
    await sandbox.destroy()
    assert not bundle.exists()
    assert str(bundle) not in _mounts()


def _mounts() -> str:
    with open("/proc/mounts") as mounts:
        return mounts.read()


def _network_namespaces() -> set[int]:
    found = set()
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    found.add(os.stat(f"/proc/{entry.name}/ns/net").st_ino)
    return found


CRASHING = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from lambkin.sandbox.runc import RuncBackend
    from lambkin.sandbox.spec import SandboxSpec

    async def main():
        backend = RuncBackend(Path(sys.argv[1]))
        layer = (Path(sys.argv[2]),)
        running = await backend.create(SandboxSpec("running", layer, ("/bin/sleep", "600"), ()), print, print)
        await running.start()
        frozen = await backend.create(SandboxSpec("frozen", layer, ("/bin/sleep", "600"), ()), print, print)
        await frozen.start()
        await frozen.freeze()
        await backend.create(SandboxSpec("created", layer, ("/bin/sleep", "600"), ()), print, print)
        print("ready", flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


async def test_cleanup_leftovers_after_a_crash(tmp_path: Path, layer: Path) -> None:
    data = tmp_path / "data"
    crashing = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING, str(data), str(layer), stdout=subprocess.PIPE, cwd=REPO
    )
    assert crashing.stdout is not None
    line = await crashing.stdout.readline()
    assert line.startswith(b"ready"), line
    crashing.kill()  # as kill -9: no destroy, no cleanup
    await crashing.communicate()
    backend = RuncBackend(data)
    assert sorted(backend.runc.ids()) == ["frozen", "running"]
    assert len([p for p in _mounts().split() if p.startswith(str(data))]) == 6  # 3 roots, their /tmp

    await backend.cleanup_leftovers()

    assert backend.runc.ids() == []
    assert str(data) not in _mounts()
    assert list((data / "sandboxes").iterdir()) == []
    assert backend.layout.cgroup("running").directories() == []
    assert backend.layout.cgroup("frozen").directories() == []


async def test_orphans_of_a_deleted_data_directory_are_swept_by_any_instance(
    tmp_path: Path, layer: Path
) -> None:
    gone, other = RuncBackend(tmp_path / "gone"), RuncBackend(tmp_path / "other")
    sandbox = await gone.create(spec(layer, "sleep 600"), Output(), Output())
    await sandbox.start()
    await other.cleanup_leftovers()
    assert gone.runc.ids() == ["sbx"]  # its data directory exists: not an orphan

    bundle = gone.layout.bundle("sbx")
    overlay.detach(bundle / "rootfs")
    overlay.detach(bundle / "tmp")
    shutil.rmtree(tmp_path / "gone")  # as a test suite deletes a killed server's data directory
    await other.cleanup_leftovers()

    assert (await sandbox.wait()).signal == signal.SIGKILL
    assert not gone.layout.runc_root.exists()
    assert gone.layout.cgroup("sbx").directories() == []
    await sandbox.destroy()
