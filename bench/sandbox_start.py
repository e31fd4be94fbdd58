"""Sandbox start: lambkin's create()+start() to the first output line, vs a plain `runc run` of the same bundle.

Run: .venv/bin/python -m bench.sandbox_start [--samples N]

- anchor: a bundle prepared by hand once (the same overlay root and config.json, but runc makes the network
  namespace itself), `runc run` in the foreground, timed from spawn to the first line on its stdout.
- lambkin: RuncBackend.create() (bundle, overlay mount, network namespace with loopback up and the Runtime
  API socket, config.json) + start() (`runc run --detach`), timed to the first line reaching the sink.
Both run `/bin/echo ready` from a static busybox layer. Teardown is not timed. Prints medians, p90s, the
ratio lambkin / anchor, and lambkin's own overhead in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from lambkin.sandbox import oci, overlay, rootfs
from lambkin.sandbox.cgroups import Cgroup
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxSpec
from lambkin.testing.sandbox import busybox_layer

ARGS = ("/bin/echo", "ready")


def _hand_bundle(backend: RuncBackend, layer: Path, where: Path) -> Path:
    """The anchor's bundle: the same root and config, with a runc-made network namespace."""
    bundle = where / "anchor-bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "tmp").mkdir()  # a plain directory as its /tmp (lambkin's is a sized file system)
    rootfs.ensure_skeleton(backend.layout.skeleton)
    overlay.mount_overlay([backend.layout.skeleton, layer], bundle / "rootfs")
    config = oci.config(
        SandboxSpec(id="anchor", lower_dirs=(layer,), args=ARGS, env=()),
        rootfs=str(bundle / "rootfs"),
        tmp=str(bundle / "tmp"),
        netns_path="",
        cgroups_path="/lambkin-bench/anchor",
        host_cores=backend.layout.host_cores,
    )
    for namespace in config["linux"]["namespaces"]:
        namespace.pop("path", None)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


async def _anchor_once(runc_root: Path, bundle: Path, n: int) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "runc", "--root", str(runc_root), "run", "--bundle", str(bundle), f"anchor-{n}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = await process.stdout.readline()
    elapsed = time.perf_counter() - started
    assert line == b"ready\n", line
    await process.wait()
    delete = await asyncio.create_subprocess_exec(
        "runc", "--root", str(runc_root), "delete", "-f", f"anchor-{n}"
    )
    await delete.wait()
    return elapsed


async def _lambkin_once(backend: RuncBackend, layer: Path, n: int) -> float:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()

    def stdout(chunk: bytes) -> None:
        if b"\n" in chunk and not first.done():
            first.set_result(None)

    started = time.perf_counter()
    sandbox = await backend.create(
        SandboxSpec(id=f"bench-{n}", lower_dirs=(layer,), args=ARGS, env=()), stdout, lambda _: None
    )
    await sandbox.start()
    await first
    elapsed = time.perf_counter() - started
    await sandbox.wait()
    await sandbox.destroy()
    return elapsed


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"{name:>8}: median {statistics.median(samples) * 1000:6.1f} ms, p90 {p90 * 1000:6.1f} ms"


async def main(samples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lambkin-bench-") as tmp:
        where = Path(tmp)
        layer = busybox_layer(where / "layer")
        backend = RuncBackend(where / "data")
        await backend.cleanup_leftovers()
        runc_root = where / "anchor-runc"
        anchor: list[float] = []
        ours: list[float] = []
        bundle = where / "anchor-bundle"
        try:
            _hand_bundle(backend, layer, where)
            for n in range(samples + 2):  # two warm-ups, interleaved so both see the same machine
                a = await _anchor_once(runc_root, bundle, n)
                b = await _lambkin_once(backend, layer, n)
                if n >= 2:
                    anchor.append(a)
                    ours.append(b)
        finally:
            overlay.detach(bundle / "rootfs")
            Cgroup("/lambkin-bench").remove()
            await backend.cleanup_leftovers()
        print(_summary("anchor", anchor))
        print(_summary("lambkin", ours))
        ratio = statistics.median(ours) / statistics.median(anchor)
        overhead = (statistics.median(ours) - statistics.median(anchor)) * 1000
        print(f"ratio lambkin/anchor (median): {ratio:.2f}x; lambkin's own part: {overhead:+.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    asyncio.run(main(parser.parse_args().samples))
