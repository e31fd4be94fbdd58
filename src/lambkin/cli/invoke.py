"""`lambkin invoke`: call a function on a running server through the Invoke API, signed like boto3."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from lambkin.cli.functions import add_client_arguments, calling, lambda_client


def register(commands: Any) -> None:
    cmd = commands.add_parser("invoke", help="invoke a function and print its response")
    add_client_arguments(cmd)
    cmd.add_argument("name", help="name or ARN, optionally name:qualifier")
    cmd.add_argument(
        "--payload", "-p", default="{}", help="the event: JSON text, @file, or - for standard input"
    )
    cmd.add_argument("--qualifier", help="a version or alias")
    cmd.add_argument("--event", action="store_true", help="asynchronous invoke (InvocationType Event)")
    cmd.add_argument(
        "--logs", action="store_true", help="print the last 4 KB of the function's log to stderr"
    )
    cmd.set_defaults(handler=calling(invoke))


def read_payload(spec: str) -> bytes:
    if spec == "-":
        return sys.stdin.buffer.read()
    if spec.startswith("@"):
        return Path(spec[1:]).read_bytes()
    return spec.encode()


def invoke(args: argparse.Namespace) -> int:
    client = lambda_client(args)
    request: dict[str, Any] = {
        "FunctionName": args.name,
        "Payload": read_payload(args.payload),
        "InvocationType": "Event" if args.event else "RequestResponse",
    }
    if args.qualifier:
        request["Qualifier"] = args.qualifier
    if args.logs and not args.event:
        request["LogType"] = "Tail"
    response = client.invoke(**request)
    body: bytes = response["Payload"].read() if "Payload" in response else b""
    if args.logs and response.get("LogResult"):
        sys.stderr.write(base64.b64decode(response["LogResult"]).decode(errors="replace"))
    function_error = response.get("FunctionError")
    if args.json:
        summary = {
            "StatusCode": response.get("StatusCode"),
            "ExecutedVersion": response.get("ExecutedVersion"),
            "FunctionError": function_error,
            "Payload": body.decode(errors="replace"),
        }
        print(json.dumps({k: v for k, v in summary.items() if v is not None}, indent=2))
    elif args.event:
        print(f"accepted ({response.get('StatusCode')})")
    else:
        sys.stdout.write(body.decode(errors="replace") + "\n")
    return 1 if function_error else 0
