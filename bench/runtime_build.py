"""Building a managed runtime the first time (debootstrap from the mirror, interface client, buildah) and
the second time (the image archive cached by its recipe key, only imported), beside the anchor: a plain
`import_archive` of the same archive into a fresh catalog.

Run: .venv/bin/python -m bench.runtime_build [--runtime python3.11]

The first build uses an empty temporary cache (it downloads everything again, about a minute of
debootstrap on an idle machine); the second uses that cache with a fresh data directory. Prints seconds of
each and the ratios first/second and second/anchor (target: second within a few times the import alone).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from lambkin.images.archive import import_archive
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import MIGRATIONS, Catalog
from lambkin.runtimes.build import Builder, install
from lambkin.runtimes.catalog import Runtimes
from lambkin.runtimes.recipes import RECIPES
from lambkin.store.sqlite import SqliteStore


def catalog(data_dir: Path) -> Catalog:
    data_dir.mkdir(parents=True)
    db = SqliteStore(data_dir / "lambkin.db")
    db.migrate(MIGRATIONS)
    return Catalog(db, BlobStore(data_dir / "blobs"))


async def main(runtime: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lambkin-runtime-bench-") as temporary:
        root = Path(temporary)
        builder = Builder(root / "cache", log=lambda message: print(f"  {message}", flush=True))
        first = await install(Runtimes(root / "one", catalog(root / "one")), builder, runtime)
        second = await install(Runtimes(root / "two", catalog(root / "two")), builder, runtime)
        assert not first.cached and second.cached and first.runtime.digest == second.runtime.digest
        started = time.monotonic()
        await import_archive(builder.archive_path(RECIPES[runtime]), catalog(root / "three"), tag="anchor:v1")
        anchor = time.monotonic() - started
    print(f"{runtime}: first build {first.seconds:.1f} s, second (cached) {second.seconds:.2f} s, ", end="")
    print(f"anchor import_archive {anchor:.2f} s")
    print(
        f"ratio first/second {first.seconds / second.seconds:.0f}x, second/anchor {second.seconds / anchor:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="python3.11", choices=list(RECIPES))
    asyncio.run(main(parser.parse_args().runtime))
