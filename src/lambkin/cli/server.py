"""`lambkin server`: runs the embedded default (one process, SQLite, local runc)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lambkin import app as composition
from lambkin import loop_cpu
from lambkin.config import SettingInvalid, command_defaults, settings_from_environment
from lambkin.store import StoreError


def register(commands: Any) -> None:
    cmd = commands.add_parser("server", help="run the lambkin server")
    add_server_arguments(cmd)
    cmd.set_defaults(handler=run_server)


def add_server_arguments(cmd: argparse.ArgumentParser) -> None:
    defaults = command_defaults()
    cmd.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    cmd.add_argument("--host", default=defaults.host)
    cmd.add_argument("--port", type=int, default=int(defaults.port))
    cmd.add_argument(
        "--database",
        metavar="URL",
        help="keep the state in this PostgreSQL database (postgresql://user@host:port/name) instead of "
        "SQLite files in the data directory; default: $LAMBKIN_DATABASE_URL (where a password is not "
        "shown in the process list; or use ~/.pgpass)",
    )
    cmd.add_argument(
        "--node-name",
        metavar="NAME",
        help="run as this node of a cluster sharing the --database (default: $LAMBKIN_NODE_NAME; none: one "
        "server alone)",
    )
    cmd.add_argument(
        "--regions",
        metavar="LIST",
        help="serve these regions too, comma-separated, each its own namespace of functions, queues and the "
        "rest (default: $LAMBKIN_REGIONS; none: only $LAMBKIN_REGION)",
    )
    cmd.add_argument(
        "--advertise",
        metavar="URL",
        help="the URL the other nodes reach this one at (default: $LAMBKIN_ADVERTISE, else http://HOST:PORT)",
    )


def run_server(args: argparse.Namespace) -> int:
    return serve(args)


AfterReady = Callable[[composition.Lambkin], Coroutine[Any, Any, None]]


def keep_private(data_dir: Path) -> None:
    """Everything the server writes from now on is its own: umask 077 (databases, logs, blobs, keys: 0600;
    directories 0700), and the data directory 0700, one made earlier with wider modes too."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


def serve(args: argparse.Namespace, after_ready: AfterReady | None = None) -> int:
    """Runs the server until interrupted; `after_ready` runs beside it once it accepts requests."""
    logging.basicConfig(level=command_defaults().log_level or "INFO", format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request (image pulls, JWT key sets)
    keep_private(args.data_dir)
    try:
        settings, generated = settings_from_environment(args.data_dir.resolve(), args.host, args.port)
    except SettingInvalid as exc:
        print(f"lambkin: {exc}", file=sys.stderr)
        return 1
    if args.database:
        settings = dataclasses.replace(settings, database_url=args.database)
    if args.node_name:
        settings = dataclasses.replace(settings, node_name=args.node_name)
    if args.regions:
        listed = tuple(r for r in args.regions.replace(",", " ").split() if r)
        settings = dataclasses.replace(settings, regions=(settings.region, *listed))
    if args.advertise:
        settings = dataclasses.replace(settings, advertise=args.advertise)
    if generated:
        print("lambkin generated an access key pair (kept in the data directory):", flush=True)
        print(f"  LAMBKIN_ACCESS_KEY_ID={settings.credentials.access_key_id}", flush=True)
        print(f"  LAMBKIN_SECRET_ACCESS_KEY={settings.credentials.secret_access_key}", flush=True)

    async def main() -> None:
        await loop_cpu.start_pools()  # on every CPU, though the loop thread, which starts them, is pinned
        server = composition.build(settings)
        started = asyncio.Event()

        def ready() -> None:
            print(f"lambkin listening on {settings.endpoint}", flush=True)
            started.set()

        async def when_ready() -> None:
            await started.wait()
            if after_ready is not None:
                await after_ready(server)

        await server.serve(ready, beside=() if after_ready is None else (when_ready,))

    try:
        pinned = loop_cpu.pin(settings.loop_cpu)  # this thread runs the event loop
    except loop_cpu.LoopCpuInvalid as exc:
        print(f"lambkin: {exc}", file=sys.stderr)
        return 1
    try:
        import uvloop

        uvloop.run(main())
    except KeyboardInterrupt:
        pass
    except (OSError, StoreError, SettingInvalid) as exc:
        print(f"lambkin: {exc}", file=sys.stderr)
        return 1
    finally:
        loop_cpu.release(pinned)
    return 0
