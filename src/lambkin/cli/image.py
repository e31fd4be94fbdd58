"""`lambkin image pull|import|ls|gc`: the image store of a data directory, worked on in-process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console

from lambkin import app as composition
from lambkin.cli.progress import PullDisplay, size
from lambkin.cli.server import keep_private
from lambkin.config import Settings, command_defaults
from lambkin.images.addresses import RegistryAllowList
from lambkin.images.archive import import_archive
from lambkin.images.errors import RegistryError
from lambkin.images.gc import BLOB_GRACE, collect_garbage
from lambkin.images.pull import ImageUnavailable
from lambkin.images.reference import parse_reference
from lambkin.images.registry_auth import Credentials
from lambkin.images.service import ImageService
from lambkin.store import DatabaseUnreachable, SchemaTooNew

Command = Callable[[ImageService, argparse.Namespace], Coroutine[Any, Any, int]]


def register(commands: Any) -> None:
    image = commands.add_parser("image", help="pull, import, list and garbage-collect images")
    verbs = image.add_subparsers(dest="verb", required=True, metavar="VERB")

    pull = verbs.add_parser("pull", help="pull an image from a registry into the data directory")
    pull.add_argument("reference", help="[host[:port]/]repository[:tag|@sha256:digest]")
    pull.add_argument("--creds", help="USERNAME:PASSWORD for the registry (else skopeo/docker logins)")
    pull.add_argument("--tls-verify", type=_boolean, default=True, metavar="true|false")
    pull.add_argument("--arch", help="architecture to pull from a multi-platform image (default: host's)")
    pull.add_argument("--quiet", "-q", action="store_true", help="print only the digest")
    pull.set_defaults(handler=_runner(_pull))

    imp = verbs.add_parser("import", help="import a docker-archive, OCI archive or OCI layout directory")
    imp.add_argument("file", type=Path)
    imp.add_argument("--tag", help="REPOSITORY[:TAG] for the image (required if the archive names none)")
    imp.add_argument("--arch", help="architecture to take from a multi-platform image (default: host's)")
    imp.add_argument("--quiet", "-q", action="store_true", help="print only what was imported, no progress")
    imp.set_defaults(handler=_runner(_import))

    ls = verbs.add_parser("ls", help="list images with their tags, digests and sizes")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=_runner(_list))

    gc = verbs.add_parser("gc", help="delete blobs no image references, and abandoned uploads")
    gc.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    gc.add_argument(
        "--grace",
        type=float,
        default=BLOB_GRACE,
        metavar="SECONDS",
        help=f"keep unreferenced blobs younger than this, as a push in progress may need them ({BLOB_GRACE:.0f})",
    )
    gc.add_argument(  # on a cluster each node sweeps only the upload sessions whose id names it
        "--node-name",
        default=os.environ.get("LAMBKIN_NODE_NAME") or None,
        help="on a cluster, the node this data directory is: its upload sessions are swept; default: "
        "$LAMBKIN_NODE_NAME",
    )
    gc.set_defaults(handler=_runner(_gc))

    for verb in (pull, imp, ls, gc):
        verb.add_argument("--data-dir", type=Path, default=command_defaults().data_dir)
        verb.add_argument(  # the catalog is where the server keeps it: gc on any other would see no image
            "--database",
            metavar="URL",
            default=os.environ.get("LAMBKIN_DATABASE_URL") or None,
            help="the server's PostgreSQL database, if it keeps its state there; default: $LAMBKIN_DATABASE_URL",
        )


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        logging.basicConfig(level=command_defaults().log_level or "WARNING", format="lambkin: %(message)s")
        keep_private(args.data_dir)  # it writes blobs and the database as the server would
        try:
            app = composition.build(Settings(data_dir=args.data_dir.resolve(), database_url=args.database))
        except (DatabaseUnreachable, SchemaTooNew) as exc:
            print(f"lambkin: {exc}", file=sys.stderr)
            return 1
        try:
            return asyncio.run(command(app.images, args))
        except ImageUnavailable as exc:
            print(f"lambkin: {exc}", file=sys.stderr)
            return 1
        except RegistryError as exc:
            print(f"lambkin: {exc.message}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"lambkin: {exc}", file=sys.stderr)
            return 2
        finally:
            app.close()

    return run


async def _pull(images: ImageService, args: argparse.Namespace) -> int:
    ref = parse_reference(args.reference)
    client = images.client
    client.tls_verify = args.tls_verify
    client.allowed = RegistryAllowList(any_address=True)  # the operator names the host: no caller does
    if args.creds:
        client.credentials = {**client.credentials, ref.registry: Credentials.parse(args.creds)}
    with PullDisplay(Console(stderr=True), quiet=args.quiet) as show:
        pulled = await client.pull(ref, architecture=args.arch, progress=show)
    if not args.quiet:
        print(f"Stored {pulled.repository}:{ref.tag or '<none>'} ({size(show.total)} downloaded)")
    print(pulled.digest)
    return 0


async def _import(images: ImageService, args: argparse.Namespace) -> int:
    if not args.file.exists():
        raise ValueError(f"{args.file}: no such file or directory")
    with PullDisplay(Console(stderr=True), quiet=args.quiet) as show:
        imported = await import_archive(
            args.file, images.catalog, tag=args.tag, architecture=args.arch, progress=show
        )
    if not args.quiet:
        print(f"Copied {size(show.total)} into the image store", file=sys.stderr)
    for image in imported:
        print(f"Imported {image.repository}:{image.tag} {image.digest}")
    return 0


async def _list(images: ImageService, args: argparse.Namespace) -> int:
    summaries = await images.catalog.images()
    if args.json:
        rows = [
            {
                "repository": s.repository,
                "tags": list(s.tags),
                "digest": s.digest,
                "mediaType": s.media_type,
                "size": s.size,
                "pushedAt": s.pushed_at,
            }
            for s in summaries
        ]
        print(json.dumps(rows, indent=2))
        return 0
    table = [("REPOSITORY", "TAG", "DIGEST", "SIZE")]
    for s in summaries:
        for tag in s.tags or ("<none>",):
            table.append((s.repository, tag, s.digest[:19], size(s.size)))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


async def _gc(images: ImageService, args: argparse.Namespace) -> int:
    catalog = images.catalog
    report = await collect_garbage(
        catalog.db,
        catalog.blobs,
        now=time.time(),
        blob_grace=args.grace,
        dry_run=args.dry_run,
        node=args.node_name,
    )
    verb = "Would delete" if args.dry_run else "Deleted"
    for digest in report.blobs_deleted:
        print(f"{verb} blob {digest}")
    print(
        f"{verb} {len(report.blobs_deleted)} blobs ({size(report.bytes_freed)}), "
        f"{report.uploads_deleted} abandoned uploads, {report.staging_files_deleted} staging files"
    )
    return 0
