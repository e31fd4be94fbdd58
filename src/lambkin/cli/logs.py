"""`lambkin logs FUNCTION [-f]`: prints a function's log events from the server (CloudWatch Logs API)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from lambkin.config import command_defaults


def register(commands: Any) -> None:
    cmd = commands.add_parser("logs", help="print a function's logs (START/END/REPORT and its output)")
    cmd.add_argument("function", help="function name")
    cmd.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    cmd.add_argument("--since", default="1h", help="how far back to start: 30s, 10m, 1h, 2d (default 1h)")
    defaults = command_defaults()
    cmd.add_argument("--endpoint-url", default=defaults.endpoint or "http://127.0.0.1:9000")
    cmd.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    cmd.set_defaults(handler=run_logs)


def _since_ms(text: str, now: float) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value, unit = text[:-1], text[-1:]
    if unit not in units or not value.isdigit():
        raise SystemExit(f"lambkin logs: --since takes a number and s/m/h/d, not {text!r}")
    return int((now - int(value) * units[unit]) * 1000)


def _credentials(data_dir: Path) -> tuple[str, str]:
    given = command_defaults().access_key
    if given is not None:
        return given.access_key_id, given.secret_access_key
    saved = data_dir / "credentials.json"
    if saved.exists():
        loaded = json.loads(saved.read_text())
        return loaded["access_key_id"], loaded["secret_access_key"]
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    raise SystemExit("lambkin logs: no credentials (set LAMBKIN_ACCESS_KEY_ID/SECRET or --data-dir)")


def _client(args: argparse.Namespace) -> Any:
    import botocore.session

    key, secret = _credentials(args.data_dir)
    region = command_defaults().region
    return botocore.session.get_session().create_client(
        "logs",
        endpoint_url=args.endpoint_url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _print(event: dict[str, Any]) -> None:
    stamp = datetime.datetime.fromtimestamp(event["timestamp"] / 1000, datetime.UTC)
    print(
        f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z {event['logStreamName']} {event['message']}"
    )


def run_logs(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    client = _client(args)
    group = f"/aws/lambda/{args.function}"
    start = _since_ms(args.since, time.time())
    seen: set[str] = set()
    while True:
        token: str | None = None
        try:
            while True:
                params: dict[str, Any] = {"logGroupName": group, "startTime": start}
                if token:
                    params["nextToken"] = token
                page = client.filter_log_events(**params)
                for event in page["events"]:
                    if event["eventId"] not in seen:
                        seen.add(event["eventId"])
                        _print(event)
                        start = max(start, event["timestamp"])
                token = page.get("nextToken")
                if not token:
                    break
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException" or not args.follow:
                print(f"lambkin logs: {exc}", file=sys.stderr)
                return 1
        sys.stdout.flush()
        if not args.follow:
            return 0
        time.sleep(1.0)
