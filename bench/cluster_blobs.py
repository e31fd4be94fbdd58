"""A pull through the node of a cluster that lacks the image against a pull through the node that has it.

Run: .venv/bin/python -m bench.cluster_blobs [--rounds N]

Two lambkin nodes on one PostgreSQL (a cluster of this run's own, tests/postgres.py), each with its own data
directory. Every round pushes the ~120 MB image of bench.registry_push_pull to node a of a fresh pair of
nodes, then pulls it with skopeo through node a (the anchor: its blobs are on its disk) and through node b (which fetches every blob from a by digest, verifies it while writing it to
its own disk, then serves it), the two taking turns going first. Prints each round's seconds and the ratio
of medians b/a: what a first pull (or cold start) on a node without the image pays for the fetch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import postgres

from bench.registry_push_pull import KEY, SECRET, _wait, build_image, free_port, skopeo_copy

CREDS = [f"{KEY}:{SECRET}"]


@contextmanager
def node(name: str, database: str, data: Path) -> Iterator[str]:
    port = free_port()
    env = dict(
        os.environ,
        LAMBKIN_ACCESS_KEY_ID=KEY,
        LAMBKIN_SECRET_ACCESS_KEY=SECRET,
        LAMBKIN_LOG_LEVEL="WARNING",
        LAMBKIN_DATABASE_URL=database,
        LAMBKIN_NODE_NAME=name,
        LAMBKIN_ADVERTISE=f"http://127.0.0.1:{port}",
    )
    command = [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/v2/", (KEY, SECRET), process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def pull(registry: str, out: Path) -> float:
    seconds = skopeo_copy(f"docker://{registry}/bench/app:v1", f"dir:{out}", CREDS, [])
    manifest = json.loads((out / "manifest.json").read_text())
    for layer in manifest["layers"]:
        blob = out / layer["digest"].split(":")[1]
        assert blob.stat().st_size == layer["size"], f"pulled {blob} is incomplete"
    return seconds


def one_round(cluster: postgres.PostgresServer, layout: Path, b_first: bool) -> tuple[float, float]:
    database = cluster.create_database("bench_blobs")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-blobs-") as work:
        root = Path(work)
        with node("a", database, root / "a") as a, node("b", database, root / "b") as b:
            skopeo_copy(f"oci:{layout}:bench", f"docker://{a}/bench/app:v1", [], CREDS)
            times: dict[str, float] = {}
            for name, registry in [("b", b), ("a", a)] if b_first else [("a", a), ("b", b)]:
                times[name] = pull(registry, root / f"pulled-{name}")
    return times["a"], times["b"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    layout = build_image()
    size = sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
    print(f"image: {size / 1e6:.1f} MB in {layout}; {args.rounds} rounds")
    cluster = postgres.PostgresServer().start()
    results: list[tuple[float, float]] = []
    try:
        for n in range(args.rounds):
            through_a, through_b = one_round(cluster, layout, b_first=n % 2 == 1)
            results.append((through_a, through_b))
            print(
                f"round {n + 1}  pull via a (has it) {through_a:6.3f} s  via b (fetches) {through_b:6.3f} s"
            )
    finally:
        cluster.remove()
    anchor = statistics.median(r[0] for r in results)
    ours = statistics.median(r[1] for r in results)
    print(
        f"\npull via the node with the blobs {anchor:.3f} s ({size / anchor / 1e6:.0f} MB/s), via a node that"
        f" fetches them {ours:.3f} s ({size / ours / 1e6:.0f} MB/s)  ratio {ours / anchor:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
