"""`lambkin routes list|add|remove`: edit the HTTP gateway's routes file, which the server re-reads on change."""

from __future__ import annotations

import argparse
import fcntl
import json
from pathlib import Path
from typing import Any

from lambkin.config import command_defaults, routes_file
from lambkin.events.http.routes import FORMATS, Route, load_routes, save_routes


def register(commands: Any) -> None:
    cmd = commands.add_parser("routes", help="HTTP gateway routes (served at /gateway/... on the server)")
    verbs = cmd.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="print the routes")
    add = verbs.add_parser("add", help="add or replace the route for METHOD PATH")
    add.add_argument("method", help="GET, POST, ... or ANY")
    add.add_argument("path", help="/items/{id}, /files/{proxy+} or $default")
    add.add_argument("function", help="the function's name")
    add.add_argument("--qualifier", help="an alias or version")
    add.add_argument("--format", choices=FORMATS, default="2.0", help="event format (default 2.0)")
    add.add_argument(
        "--multi-value-headers", action="store_true", help="ALB: lambda.multi_value_headers.enabled"
    )
    remove = verbs.add_parser("remove", help="remove the route for METHOD PATH")
    remove.add_argument("method")
    remove.add_argument("path")
    for sub in (listing, add, remove):
        sub.add_argument("--data-dir", type=Path, default=command_defaults().data_dir)
        sub.add_argument(
            "--file", type=Path, help="the routes file (default $LAMBKIN_ROUTES or DATA/routes.json)"
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.file or routes_file(args.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        routes = load_routes(path)
        if args.verb == "add":
            route = Route(
                args.method.upper(),
                args.path,
                args.function,
                args.qualifier,
                args.format,
                args.multi_value_headers,
            )
            routes = [r for r in routes if (r.method, r.path) != (route.method, route.path)] + [route]
            save_routes(path, routes)
        elif args.verb == "remove":
            kept = [r for r in routes if (r.method, r.path) != (args.method.upper(), args.path)]
            if len(kept) == len(routes):
                print(f"lambkin: no route {args.method.upper()} {args.path}")
                return 1
            routes = kept
            save_routes(path, routes)
    if args.json:
        print(json.dumps({"routes": [r.to_json() for r in routes]}, indent=2))
    elif args.verb == "list":
        for r in routes:
            target = r.function + (f":{r.qualifier}" if r.qualifier else "")
            mode = r.format + (" multi-value" if r.multi_value_headers else "")
            print(f"{r.method:7} {r.path:30} {target:30} {mode}")
    return 0
