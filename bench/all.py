"""Runs every benchmark module under bench/ in turn (`make bench`), or the ones named on the command line."""

from __future__ import annotations

import pkgutil
import runpy
import sys
import time
from pathlib import Path

SKIP = {"all", "common", "byte_relay", "relay_floor"}  # the last two are relays other benches start


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name not in SKIP and not m.ispkg
    )
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        sys.argv = [f"bench.{name}"]  # each benchmark parses its own options: run with its defaults
        try:
            runpy.run_module(f"bench.{name}", run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(name)
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            print(f"bench.{name} failed: {exc!r}", flush=True)
            failed.append(name)
        print(f"=== bench.{name}: {time.monotonic() - started:.1f} s ===", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
