"""Entry point of the `lambkin` command: one subcommand module per area, each with `register()`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lambkin.cli import functions, image, invoke, logs, routes, runtimes, server, up


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lambkin", description="Lambda-compatible container functions.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (server, up, image, runtimes, functions, invoke, logs, routes):
        module.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.handler(args)
    sys.stdout.flush()
    return result
