"""CloudWatch Logs read operations over the logs (this node's, or a cluster's): DescribeLogGroups/Streams,
GetLogEvents, FilterLogEvents."""

from __future__ import annotations

import base64
import json
from typing import Any

from lambkin import json_depth
from lambkin.logs.errors import InvalidParameter, LogGroupNotFound
from lambkin.logs.reader import EventQuery, LogReader
from lambkin.logs.store import LogEvent
from lambkin.protocol.service import Handler, RequestContext

DEFAULT_LIMIT = 10000


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json_depth.loads(base64.urlsafe_b64decode(token))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameter("The specified nextToken is not valid.") from exc


def _page(count: int, limit: int, given: str | None, start_from_head: bool) -> tuple[int, int]:
    """GetLogEvents' window [start, end) of a stream's `count` events, in time order. Without a token: the
    first `limit` events when `startFromHead`, else the last `limit` (AWS's default). A forward token ("f/")
    reads the `limit` events from its offset on, a backward one ("b/") the `limit` events before its offset;
    at either end of the stream the page is empty and its token comes back unchanged."""
    if not given:
        start = 0 if start_from_head else max(count - limit, 0)
        return start, min(start + limit, count)
    direction, _, token = given.rpartition("/")
    offset = min(_offset(token), count)
    if direction == "f":
        return offset, min(offset + limit, count)
    if direction == "b":
        return max(offset - limit, 0), offset
    raise InvalidParameter("The specified nextToken is not valid.")


def _group_arn(ctx: RequestContext, group: str) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}:*"


async def _require_group(logs: LogReader, group: str) -> None:
    if group not in await logs.groups():
        raise LogGroupNotFound()


def _simple_filter(pattern: str | None) -> str | None:
    """Plain-term filter patterns (quoted or not); richer syntax is matched as one term."""
    if not pattern:
        return None
    return pattern.strip().strip('"')


def logs_handlers(logs: LogReader) -> dict[str, Handler]:
    async def describe_log_groups(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix") or ""
        groups = [g for g in await logs.groups() if g.startswith(prefix)]
        return {
            "logGroups": [{"logGroupName": g, "arn": _group_arn(ctx, g), "storedBytes": 0} for g in groups]
        }

    async def describe_log_streams(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        group = params["logGroupName"]
        await _require_group(logs, group)
        prefix = params.get("logStreamNamePrefix") or ""
        streams = [(s, m) for s, m in await logs.streams(group) if s.startswith(prefix)]
        if params.get("descending"):
            streams.reverse()
        return {
            "logStreams": [
                {"logStreamName": s, "lastEventTimestamp": int(m * 1000), "lastIngestionTime": int(m * 1000)}
                for s, m in streams
            ]
        }

    async def get_log_events(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        group, stream = params["logGroupName"], params["logStreamName"]
        await _require_group(logs, group)
        events = await logs.events(
            EventQuery(group, stream, params.get("startTime") or 0, params.get("endTime"))
        )
        start, end = _page(
            len(events),
            params.get("limit") or DEFAULT_LIMIT,
            params.get("nextToken"),
            bool(params.get("startFromHead")),
        )
        page = events[start:end]
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                for e in page
            ],
            "nextForwardToken": "f/" + _token(end),
            "nextBackwardToken": "b/" + _token(start),
        }

    async def filter_log_events(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        group = params["logGroupName"]
        await _require_group(logs, group)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        contains = _simple_filter(params.get("filterPattern"))
        found: list[LogEvent] = []
        candidates = await logs.events(
            EventQuery(group, None, params.get("startTime") or 0, params.get("endTime"), contains)
        )
        for event in candidates:
            if names and event.stream not in names:
                continue
            if prefix and not event.stream.startswith(prefix):
                continue
            found.append(event)
        offset = _offset(params.get("nextToken"))
        limit = params.get("limit") or DEFAULT_LIMIT
        page = found[offset : offset + limit]
        output: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time,
                    "eventId": e.event_id,
                }
                for e in page
            ],
            "searchedLogStreams": [],
        }
        if offset + len(page) < len(found):
            output["nextToken"] = _token(offset + len(page))
        return output

    return {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": describe_log_streams,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
    }
