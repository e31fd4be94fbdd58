"""Cold unpack of a Python image into the layer store, and the mount of its root once unpacked.

Run: .venv/bin/python -m bench.unpack_mount [--rounds N] [--mounts N]

The image is the test toolchain's `python-echo` (Debian bookworm minbase + python3 + awslambdaric, built
once with buildah and cached, see tests/images). It is imported from its oci-archive into a fresh data
directory under .cache/bench. Each round unpacks every layer into an empty layer store through
`ImageService.prepare` (streamed decompression, diff ID verification, staging + rename, syncfs), then,
as the anchor, extracts the same layer blobs with GNU tar (`tar --numeric-owner -xpf`, then `sync -f`);
the two take turns going first. Then it mounts the read-only overlay root `--mounts` times.
Prints medians, the ratio lambkin/GNU tar, and the mount time against its 10 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lambkin import app as composition
from lambkin.config import Settings
from lambkin.images.archive import import_archive
from lambkin.images.layers import LayerStore
from lambkin.images.service import ImageService, ResolvedImage
from lambkin.sandbox.overlay import mount_overlay, unmount

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cache" / "bench" / "unpack-mount"
IMAGE = "python-echo"
MOUNT_TARGET_MS = 10.0


def image_archive() -> Path:
    """The cached oci-archive of the toolchain's python-echo image, built on first use."""
    sys.path.insert(0, str(ROOT))
    from tests.images import build

    return build.build([IMAGE])[IMAGE]


def tree_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for directory, dirs, names in os.walk(root):
        files += len(names) + len(dirs)
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                size += os.lstat(path).st_size
    return files, size


async def lambkin_unpack(
    images: ImageService, image: ResolvedImage, store_root: Path
) -> tuple[tuple[float, float], tuple[Path, ...]]:
    service = ImageService(
        images.host, images.port, images.catalog, LayerStore(store_root, images.blobs), images.client
    )
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
    lower_dirs = await service.prepare(image)
    return (time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu), lower_dirs


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def tar_unpack(images: ImageService, image: ResolvedImage, root: Path) -> tuple[float, float]:
    """GNU tar (with its gzip/zstd child) per layer, then syncfs; returns wall and CPU seconds."""
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    for n, layer in enumerate(image.layers):
        target = root / str(n)
        target.mkdir(parents=True)
        subprocess.run(
            ["tar", "--numeric-owner", "-xpf", str(images.blobs.path(layer.digest)), "-C", str(target)],
            check=True,
        )
    subprocess.run(["sync", "-f", str(root)], check=True)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def measure_mounts(lower_dirs: tuple[Path, ...], target: Path, count: int) -> tuple[list[float], list[float]]:
    target.mkdir(parents=True, exist_ok=True)
    mounts, unmounts = [], []
    for _ in range(count):
        started = time.perf_counter()
        mount_overlay(lower_dirs, target)
        mounted = time.perf_counter()
        if not (target / "usr/bin/python3").exists():
            raise RuntimeError("the mounted root has no /usr/bin/python3")
        before_unmount = time.perf_counter()
        unmount(target)
        mounts.append((mounted - started) * 1000)
        unmounts.append((time.perf_counter() - before_unmount) * 1000)
    return mounts, unmounts


async def main(rounds: int, mount_count: int) -> int:
    archive = image_archive()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    app = composition.build(Settings(data_dir=WORK / "data", port=1))
    try:
        images = app.images
        await import_archive(archive, images.catalog, tag=f"{IMAGE}:latest")
        image = await images.resolve(f"localhost:1/{IMAGE}:latest")
        compressed = sum(layer.size for layer in image.layers)
        lambkin_times: list[tuple[float, float]] = []
        tar_times: list[tuple[float, float]] = []
        load_before = os.getloadavg()[0]
        lower_dirs: tuple[Path, ...] = ()
        for n in range(rounds):
            order = ["lambkin", "tar"] if n % 2 == 0 else ["tar", "lambkin"]
            for who in order:
                if who == "lambkin":
                    shutil.rmtree(WORK / "layers", ignore_errors=True)
                    seconds, lower_dirs = await lambkin_unpack(images, image, WORK / "layers")
                    lambkin_times.append(seconds)
                else:
                    shutil.rmtree(WORK / "tar", ignore_errors=True)
                    tar_times.append(await asyncio.to_thread(tar_unpack, images, image, WORK / "tar"))
        load_after = os.getloadavg()[0]
        files, unpacked = tree_stats(WORK / "layers")
        mounts, unmounts = measure_mounts(lower_dirs, WORK / "root", mount_count)
    finally:
        app.close()

    lk, gt = statistics.median(t for t, _ in lambkin_times), statistics.median(t for t, _ in tar_times)
    lk_cpu, gt_cpu = (
        statistics.median(c for _, c in lambkin_times),
        statistics.median(c for _, c in tar_times),
    )
    mount_ms = statistics.median(mounts)
    p95 = sorted(mounts)[max(0, int(len(mounts) * 0.95) - 1)]
    print(
        f"image: {IMAGE}, {len(image.layers)} layers, {compressed / 1e6:.1f} MB compressed, "
        f"{unpacked / 1e6:.1f} MB unpacked, {files} entries"
    )
    print(
        f"cold unpack, lambkin (stream, verify diff IDs, staging, syncfs): "
        f"median {lk:.2f} s (cpu {lk_cpu:.2f} s)  rounds {', '.join(f'{t:.2f}' for t, _ in lambkin_times)}"
    )
    print(
        f"cold unpack, anchor GNU tar -xpf + sync -f:                      "
        f"median {gt:.2f} s (cpu {gt_cpu:.2f} s)  rounds {', '.join(f'{t:.2f}' for t, _ in tar_times)}"
    )
    print(f"ratio lambkin/GNU tar: wall {lk / gt:.2f}, cpu {lk_cpu / gt_cpu:.2f}")
    print(
        f"host load average (2 cores, shared): {load_before:.1f} before, {load_after:.1f} after the unpack rounds"
    )
    print(
        f"mount overlay root ({len(lower_dirs)} lower dirs), {mount_count} times: median {mount_ms:.3f} ms, "
        f"p95 {p95:.3f} ms, max {max(mounts):.3f} ms; unmount median {statistics.median(unmounts):.3f} ms"
    )
    print(
        f"mount target < {MOUNT_TARGET_MS:.0f} ms: {'met' if mount_ms < MOUNT_TARGET_MS else 'MISSED'} "
        f"(ratio to target {mount_ms / MOUNT_TARGET_MS:.3f})"
    )
    shutil.rmtree(WORK, ignore_errors=True)
    return 0 if mount_ms < MOUNT_TARGET_MS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mounts", type=int, default=50)
    options = parser.parse_args()
    raise SystemExit(asyncio.run(main(options.rounds, options.mounts)))
