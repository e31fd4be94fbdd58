"""`lambkin runtimes list|build|update`: the managed runtimes of a data directory, built in-process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lambkin import app as composition
from lambkin.cli.server import keep_private
from lambkin.config import Settings, command_defaults
from lambkin.images.pull import ImageUnavailable
from lambkin.runtimes.build import Builder, install
from lambkin.runtimes.catalog import Runtimes
from lambkin.runtimes.recipes import RECIPES
from lambkin.runtimes.rootfs import BuildFailed
from lambkin.store import DatabaseUnreachable, SchemaTooNew

Command = Callable[[Runtimes, Builder, argparse.Namespace], Coroutine[Any, Any, int]]


def register(commands: Any) -> None:
    runtimes = commands.add_parser(
        "runtimes", help="list, build and update the managed runtimes (zip functions)"
    )
    verbs = runtimes.add_subparsers(dest="verb", required=True, metavar="VERB")

    ls = verbs.add_parser("list", help="list the runtimes lambkin knows, and which are built here")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=_runner(_list))

    build = verbs.add_parser("build", help="build runtimes (from the build cache when their recipe is there)")
    build.add_argument("names", nargs="*", metavar="NAME", help=f"default: all ({', '.join(RECIPES)})")
    build.set_defaults(handler=_runner(_build), fresh=False)

    update = verbs.add_parser("update", help="rebuild runtimes from today's Debian packages")
    update.add_argument("names", nargs="*", metavar="NAME", help="default: the ones built here")
    update.set_defaults(handler=_runner(_build), fresh=True)

    for verb in (ls, build, update):
        verb.add_argument("--data-dir", type=Path, default=command_defaults().data_dir)
        verb.add_argument(
            "--database",
            metavar="URL",
            default=os.environ.get("LAMBKIN_DATABASE_URL") or None,
            help="the server's PostgreSQL database, if it keeps its state there; default: $LAMBKIN_DATABASE_URL",
        )
        verb.add_argument(  # kept apart from the data directory so that many servers share one build
            "--cache-dir",
            type=Path,
            default=runtimes_cache(),
            help="where debootstrap trees and built images are cached; default: $LAMBKIN_RUNTIMES_CACHE, "
            "else DATA_DIR/runtimes/cache",
        )


def runtimes_cache() -> Path | None:
    """Where built runtimes are cached unless told: $LAMBKIN_RUNTIMES_CACHE (None: the data directory's)."""
    value = os.environ.get("LAMBKIN_RUNTIMES_CACHE")
    return Path(value) if value else None


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        logging.basicConfig(level=command_defaults().log_level or "WARNING", format="lambkin: %(message)s")
        keep_private(args.data_dir)
        data_dir = args.data_dir.resolve()
        try:
            app = composition.build(Settings(data_dir=data_dir, database_url=args.database))
        except (DatabaseUnreachable, SchemaTooNew) as exc:
            print(f"lambkin: {exc}", file=sys.stderr)
            return 1
        runtimes = Runtimes(data_dir, app.images.catalog)
        builder = Builder(args.cache_dir or data_dir / "runtimes" / "cache", log=_log)
        try:
            return asyncio.run(command(runtimes, builder, args))
        except (BuildFailed, ImageUnavailable) as exc:
            print(f"lambkin: {exc}", file=sys.stderr)
            return 1
        finally:
            app.close()

    return run


def _log(message: str) -> None:
    print(f"[runtimes] {message}", file=sys.stderr, flush=True)


async def _list(runtimes: Runtimes, builder: Builder, args: argparse.Namespace) -> int:
    rows = []
    for name, recipe in RECIPES.items():
        built = runtimes.built(name)
        rows.append(
            {
                "runtime": name,
                "debian": recipe.suite,
                "language": f"{recipe.language.value} {recipe.version}".strip(),
                "built": built is not None,
                "digest": built.digest if built else None,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [("RUNTIME", "DEBIAN", "LANGUAGE", "STATUS", "DIGEST")]
    for row in rows:
        status = "built" if row["built"] else "not built"
        digest = str(row["digest"] or "")[:19]
        table.append((str(row["runtime"]), str(row["debian"]), str(row["language"]), status, digest))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


async def _build(runtimes: Runtimes, builder: Builder, args: argparse.Namespace) -> int:
    names = args.names or (runtimes.names() if args.fresh else list(RECIPES))
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise BuildFailed(f"no runtime named {', '.join(unknown)}; lambkin builds {', '.join(RECIPES)}")
    failed = 0
    for name in names:
        try:
            built = await install(runtimes, builder, name, fresh=args.fresh)
        except BuildFailed as exc:
            print(f"lambkin: {name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        how = "from the build cache" if built.cached else "built"
        print(f"{name} {built.runtime.digest} ({how} in {built.seconds:.1f} s)")
    return 1 if failed else 0
