"""`lambkin functions list|show`: read functions from a running server over its Lambda API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lambkin.config import CREDENTIALS_FILE, command_defaults


def add_client_arguments(cmd: argparse.ArgumentParser) -> None:
    """Where the server is and which credentials to sign with."""
    defaults = command_defaults()
    cmd.add_argument("--endpoint-url", default=defaults.endpoint or f"http://127.0.0.1:{defaults.port}")
    cmd.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.data_dir,
        help="the server's data directory, to read its credentials when LAMBKIN_ACCESS_KEY_ID is unset",
    )
    cmd.add_argument("--region", default=defaults.region)
    cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")


def credentials(data_dir: Path) -> tuple[str, str]:
    given = command_defaults().access_key
    if given is not None:
        return given.access_key_id, given.secret_access_key
    path = data_dir / CREDENTIALS_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(
            f"lambkin: no credentials: set LAMBKIN_ACCESS_KEY_ID/LAMBKIN_SECRET_ACCESS_KEY or --data-dir ({exc})"
        ) from exc
    return str(saved["access_key_id"]), str(saved["secret_access_key"])


def lambda_client(args: argparse.Namespace, service: str = "lambda") -> Any:
    """A botocore client (Lambda's by default) that signs with SigV4, exactly as boto3 and the AWS CLI do."""
    import botocore.session
    from botocore.config import Config

    key_id, secret = credentials(args.data_dir)
    session = botocore.session.get_session()
    return session.create_client(
        service,
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=960),
    )


def calling(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turns API and connection errors into one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import ClientError, EndpointConnectionError

        try:
            return fn(args)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            print(f"lambkin: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        except EndpointConnectionError:
            print(f"lambkin: cannot reach the server at {args.endpoint_url}", file=sys.stderr)
        return 1

    return run


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def register(commands: Any) -> None:
    group = commands.add_parser("functions", help="list and inspect functions on a running server")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every function, one line each")
    add_client_arguments(listing)
    listing.add_argument("--all-versions", action="store_true", help="published versions too")
    listing.set_defaults(handler=calling(list_functions))
    show = actions.add_parser("show", help="one function's configuration and code")
    add_client_arguments(show)
    show.add_argument("name", help="name or ARN, optionally name:qualifier")
    show.add_argument("--qualifier")
    show.set_defaults(handler=calling(show_function))


def list_functions(args: argparse.Namespace) -> int:
    client = lambda_client(args)
    extra = {"FunctionVersion": "ALL"} if args.all_versions else {}
    functions: list[dict[str, Any]] = []
    for page in client.get_paginator("list_functions").paginate(**extra):
        functions.extend(page["Functions"])
    if args.json:
        print(json.dumps(functions, indent=2, default=str))
        return 0
    rows = [
        (
            f["FunctionName"],
            f["Version"],
            f.get("State", ""),
            f.get("LastUpdateStatus", ""),
            str(f["MemorySize"]),
            str(f["Timeout"]),
            f["LastModified"],
        )
        for f in functions
    ]
    print(table(rows, ("NAME", "VERSION", "STATE", "LAST UPDATE", "MEMORY", "TIMEOUT", "LAST MODIFIED")))
    return 0


def show_function(args: argparse.Namespace) -> int:
    client = lambda_client(args)
    extra = {"Qualifier": args.qualifier} if args.qualifier else {}
    found = client.get_function(FunctionName=args.name, **extra)
    found.pop("ResponseMetadata", None)
    if args.json:
        print(json.dumps(found, indent=2, default=str))
        return 0
    config, code = found["Configuration"], found["Code"]
    image = config.get("ImageConfigResponse", {}).get("ImageConfig", {})
    fields = [
        ("Name", config["FunctionName"]),
        ("ARN", config["FunctionArn"]),
        ("Version", config["Version"]),
        ("State", " ".join(filter(None, [config.get("State"), config.get("StateReasonCode")]))),
        ("Reason", config.get("StateReason", "")),
        (
            "Last update",
            " ".join(filter(None, [config.get("LastUpdateStatus"), config.get("LastUpdateStatusReason")])),
        ),
        ("Image", code.get("ImageUri", "")),
        ("Resolved image", code.get("ResolvedImageUri", "")),
        ("Memory", f"{config['MemorySize']} MB"),
        ("Timeout", f"{config['Timeout']} s"),
        ("Ephemeral storage", f"{config.get('EphemeralStorage', {}).get('Size', 512)} MB"),
        ("Architectures", ", ".join(config.get("Architectures", []))),
        ("Entry point", " ".join(image.get("EntryPoint", []))),
        ("Command", " ".join(image.get("Command", []))),
        ("Working directory", image.get("WorkingDirectory", "")),
        ("Role", config.get("Role", "")),
        ("Description", config.get("Description", "")),
        ("Last modified", config["LastModified"]),
        ("Revision", config.get("RevisionId", "")),
        ("Reserved concurrency", str(found.get("Concurrency", {}).get("ReservedConcurrentExecutions", ""))),
    ]
    for key, value in sorted(config.get("Environment", {}).get("Variables", {}).items()):
        fields.append((f"Env {key}", value))
    for key, value in sorted(found.get("Tags", {}).items()):
        fields.append((f"Tag {key}", value))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        if value:
            print(f"{key.ljust(width)}  {value}")
    return 0
