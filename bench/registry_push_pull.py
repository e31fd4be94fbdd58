"""Push and pull of a ~120 MB image with skopeo: lambkin's registry against Debian's docker-registry.

Run: .venv/bin/python -m bench.registry_push_pull [--rounds N]

The image (three gzip layers: random bytes, text, a mix) is built once with buildah and cached under
.cache/bench. Every round starts a fresh lambkin server and a fresh docker-registry (filesystem storage,
no auth) on loopback, so no push can skip or mount a blob left by an earlier round; the two take turns
going first. Prints each round's seconds and the ratio of medians lambkin/anchor (target <= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
LAYOUT = CACHE / "registry-image"
KEY, SECRET = "LKIABENCH0000000000", "bench-secret-0000000000000000000000000000"
LAYERS = [(84, 0.0), (40, 1.0), (40, 0.5)]  # MiB per layer and the share that is text: ~120 MB gzipped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _fill(directory: Path, megabytes: int, text_share: float, seed: int) -> None:
    rng = random.Random(seed)
    words = [f"word{i}" for i in range(5000)]
    directory.mkdir(parents=True, exist_ok=True)
    text_files = int(megabytes * text_share)
    for i in range(megabytes):
        if i < text_files:
            lines = (" ".join(rng.choices(words, k=12)) for _ in range(14000))
            data = "\n".join(lines).encode()[: 1 << 20]
        else:
            data = rng.randbytes(1 << 20)
        (directory / f"file{i:03}.{'txt' if i < text_files else 'bin'}").write_bytes(data)


def build_image() -> Path:
    """The cached OCI layout of the benchmark image; built with buildah on first use."""
    if (LAYOUT / "index.json").exists():
        return LAYOUT
    work = Path(tempfile.mkdtemp(prefix="bench-image-", dir=CACHE.parent if CACHE.parent.exists() else None))
    storage = ["--root", str(work / "root"), "--runroot", str(work / "run"), "--storage-driver", "vfs"]

    def buildah(*args: str) -> str:
        return subprocess.run(
            ["buildah", *storage, *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    try:
        print("building the benchmark image (once)...", flush=True)
        image = "scratch"
        for n, (megabytes, text_share) in enumerate(LAYERS):
            _fill(work / f"layer{n}", megabytes, text_share, seed=n)
            container = buildah("from", image)
            buildah("copy", container, str(work / f"layer{n}"), f"/data/layer{n}/")
            image = f"localhost/bench:layer{n}"
            buildah("commit", "--rm", container, image)
        tmp = LAYOUT.with_name(LAYOUT.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        buildah("push", "--compression-format", "gzip", image, f"oci:{tmp}:bench")
        os.replace(tmp, LAYOUT)
    finally:
        subprocess.run(["buildah", *storage, "rm", "--all"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return LAYOUT


def _wait(url: str, auth: tuple[str, str] | None, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited early")
        try:
            if httpx.get(url, auth=auth, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up")


@contextmanager
def lambkin() -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-lambkin-") as data:
        env = dict(
            os.environ,
            LAMBKIN_ACCESS_KEY_ID=KEY,
            LAMBKIN_SECRET_ACCESS_KEY=SECRET,
            LAMBKIN_LOG_LEVEL="WARNING",
        )
        command = [sys.executable, "-m", "lambkin", "server", "--data-dir", data, "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(f"http://127.0.0.1:{port}/v2/", (KEY, SECRET), process)
            yield f"127.0.0.1:{port}", [f"{KEY}:{SECRET}"]
        finally:
            process.terminate()
            process.wait(timeout=20)


@contextmanager
def docker_registry() -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as work:
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": f"{work}/data"}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        (Path(work) / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        process = subprocess.Popen(
            ["docker-registry", "serve", f"{work}/config.yml"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/v2/", None, process)
            yield f"127.0.0.1:{port}", []
        finally:
            process.terminate()
            process.wait(timeout=20)


def skopeo_copy(src: str, dest: str, src_creds: list[str], dest_creds: list[str]) -> float:
    command = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"]
    command += [a for c in src_creds for a in ("--src-creds", c)]
    command += [a for c in dest_creds for a in ("--dest-creds", c)]
    started = time.perf_counter()
    subprocess.run([*command, src, dest], check=True, capture_output=True)
    return time.perf_counter() - started


def one_round(
    target: Callable[[], AbstractContextManager[tuple[str, list[str]]]], layout: Path
) -> tuple[float, float]:
    with target() as (registry, creds), tempfile.TemporaryDirectory(prefix="bench-pull-") as out:
        push = skopeo_copy(f"oci:{layout}:bench", f"docker://{registry}/bench/app:v1", [], creds)
        pull = skopeo_copy(f"docker://{registry}/bench/app:v1", f"dir:{out}/app", creds, [])
        manifest = json.loads(Path(out, "app", "manifest.json").read_text())
        for layer in manifest["layers"]:
            blob = Path(out, "app", layer["digest"].split(":")[1])
            assert blob.stat().st_size == layer["size"], f"pulled {blob} is incomplete"
    return push, pull


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    layout = build_image()
    size = sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
    print(f"image: {size / 1e6:.1f} MB in {layout}; {args.rounds} rounds, skopeo {_skopeo_version()}")
    results: dict[str, list[tuple[float, float]]] = {"lambkin": [], "docker-registry": []}
    targets = {"lambkin": lambkin, "docker-registry": docker_registry}
    for n in range(args.rounds):
        order = list(targets) if n % 2 == 0 else list(reversed(targets))
        for name in order:
            push, pull = one_round(targets[name], layout)
            results[name].append((push, pull))
            print(f"round {n + 1} {name:16} push {push:6.3f} s  pull {pull:6.3f} s", flush=True)
    print()
    ratios = {}
    for what, index in (("push", 0), ("pull", 1)):
        ours = statistics.median(r[index] for r in results["lambkin"])
        anchor = statistics.median(r[index] for r in results["docker-registry"])
        ratios[what] = ours / anchor
        print(
            f"{what}: lambkin {ours:.3f} s ({size / ours / 1e6:.0f} MB/s), docker-registry {anchor:.3f} s"
            f" ({size / anchor / 1e6:.0f} MB/s)  ratio {ratios[what]:.2f}"
        )
    ours_total = statistics.median(sum(r) for r in results["lambkin"])
    anchor_total = statistics.median(sum(r) for r in results["docker-registry"])
    print(f"push+pull ratio lambkin/docker-registry: {ours_total / anchor_total:.2f} (target <= 1.0)")
    return 0


def _skopeo_version() -> str:
    return subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip().split()[-1]


if __name__ == "__main__":
    raise SystemExit(main())
