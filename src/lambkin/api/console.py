"""The web console at /console: functions (configuration, versions, aliases, URL, concurrency, environments),
invoke with a payload and see the response and its log tail, a function's live log, queues (depth, send,
purge, peek). Server-rendered (docs/design/console.md): each page is AWS operations called through the
gateway as the signed-in principal, so the console can do exactly what that key can do through the API.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote

from lambkin.api import console_live_log as live_log
from lambkin.api import console_pages as html
from lambkin.api.asgi import Receive, Scope, Send, header, read_body, respond
from lambkin.api.console_calls import Calls, Refused
from lambkin.api.console_queues import QueuePages
from lambkin.api.console_sessions import COOKIE, LIFETIME_S, ConsoleSessions, Session
from lambkin.environments.environment import Environment
from lambkin.images.catalog import ImageSummary
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import Caller

PREFIX = "/console"
FORM_LIMIT = 6 * 1024 * 1024
CHART_S = 3600  # a function's charts show its last hour
LIST_PAGE = 10_000  # ListFunctions' largest MaxItems: the list page asks once for up to this many
_STATIC = {"console.css": "text/css; charset=utf-8", "logs.js": "text/javascript; charset=utf-8"}

Environments = Callable[[], Sequence[tuple[str, str, Environment]]]  # (function ARN, version, environment)
Images = Callable[[Caller], Awaitable[list[ImageSummary]]]  # the registry's images this caller may describe


class Console:
    def __init__(
        self,
        gateway: AwsGateway,
        sessions: ConsoleSessions,
        environments: Environments,
        images: Images,
        region: str,
    ) -> None:
        self.images = images
        self.gateway = gateway
        self.sessions = sessions
        self.environments = environments
        self.calls = Calls(gateway, region)
        self.queues = QueuePages(self.calls)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].removeprefix(PREFIX).rstrip("/") or "/"
        method = scope["method"]
        if path.startswith("/static/"):
            await self._static(path.removeprefix("/static/"), send)
            return
        if path == "/sign-in":
            await (self._sign_in(scope, receive, send) if method == "POST" else _html(send, html.sign_in()))
            return
        session = await self.sessions.find(_cookie(scope))
        if session is None:
            await _redirect(send, f"{PREFIX}/sign-in")
            return
        if method == "POST":
            form = await _form(receive)
            if path == "/sign-out":
                await self.sessions.sign_out(session.token)
                await _redirect(send, f"{PREFIX}/sign-in", clear=True)
                return
            if form.get("form_token") != session.form_token:
                await _html(
                    send, html.page("Refused", html.problem("The form has expired; reload the page.")), 403
                )
                return
            await self._post(session, path, form, send)
            return
        await self._get(session, path, scope, send)

    # pages
    async def _get(self, session: Session, path: str, scope: Scope, send: Send) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")] if path != "/" else []
        who = session.caller.arn
        try:
            if not parts or parts == ["functions"]:
                await _html(send, html.page("Functions", await self._functions(session), who))
            elif parts[0] == "functions" and len(parts) == 2:
                await _html(send, html.page(parts[1], await self._function(session, parts[1], None), who))
            elif parts[0] == "functions" and parts[2:] == ["logs"]:
                body = html.live_log(parts[1], live_log.now_ms())
                await _html(send, html.page(f"{parts[1]}: live log", body, who, html.LOGS_SCRIPT))
            elif parts[0] == "functions" and parts[2:] == ["logs", "stream"]:
                await self._live_log(session, parts[1], scope, send)
            elif parts == ["images"]:
                await _html(send, html.page("Images", await self._images(session), who))
            elif parts == ["queues"]:
                await _html(send, html.page("Queues", await self.queues.listing(session), who))
            elif parts[0] == "queues" and len(parts) == 2:
                await _html(send, html.page(parts[1], await self.queues.page(session, parts[1], None), who))
            else:
                await _html(send, html.page("Not found", html.problem("No such page."), who), 404)
        except Refused as refusal:
            await _html(send, html.page("Refused", html.problem(str(refusal)), who), 403)

    async def _post(self, session: Session, path: str, form: dict[str, str], send: Send) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        who = session.caller.arn
        try:
            if parts[0] == "functions" and parts[2:] == ["invoke"]:
                result = await self._invoke(session, parts[1], form.get("payload", ""))
                body = await self._function(session, parts[1], (form.get("payload", ""), result))
                await _html(send, html.page(parts[1], body, who))
            elif parts[0] == "queues" and parts[2:] in (["send"], ["purge"], ["peek"], ["redrive"]):
                note = await self.queues.act(session, parts[1], parts[2], form)
                await _html(send, html.page(parts[1], await self.queues.page(session, parts[1], note), who))
            else:
                await _html(send, html.page("Not found", html.problem("No such action."), who), 404)
        except Refused as refusal:
            await _html(send, html.page("Refused", html.problem(str(refusal)), who), 403)

    async def _functions(self, session: Session) -> str:
        functions: list[dict[str, Any]] = []
        marker = None
        while True:
            asked: dict[str, Any] = (
                {"MaxItems": LIST_PAGE} if marker is None else {"MaxItems": LIST_PAGE, "Marker": marker}
            )
            page = await self.calls.call(session, "lambda", "ListFunctions", asked)
            functions += page.get("Functions", [])
            marker = page.get("NextMarker")
            if not marker:
                break
        states = self._states()
        rows = (
            [
                html.link(html.function_href(f["FunctionName"]), f["FunctionName"]),
                html.text(f.get("PackageType", "Zip")),
                html.text(f.get("MemorySize")),
                html.text(f.get("Timeout")),
                html.text(f.get("State", "Active")),
                html.text(states.get(f["FunctionName"], "none")),
                html.text(f.get("LastModified")),
            ]
            for f in sorted(functions, key=lambda f: str(f["FunctionName"]))
        )
        return html.table(
            f"{len(functions)} functions",
            ["Name", "Package", "Memory (MB)", "Timeout (s)", "State", "Environments", "Last modified"],
            rows,
            "No functions yet.",
        )

    def _states(self) -> dict[str, str]:
        """Per function name: how many environments are in each state ("2 idle, 1 busy")."""
        counts: dict[str, dict[str, int]] = {}
        for arn, _, env in self.environments():
            state = counts.setdefault(_name_of(arn), {})
            state[env.state.value] = state.get(env.state.value, 0) + 1
        return {arn: ", ".join(f"{n} {s}" for s, n in sorted(c.items())) for arn, c in counts.items()}

    async def _function(self, session: Session, name: str, invoked: tuple[str, dict[str, Any]] | None) -> str:
        got = await self.calls.call(session, "lambda", "GetFunction", {"FunctionName": name})
        config = got["Configuration"]
        versions = await self.calls.call(session, "lambda", "ListVersionsByFunction", {"FunctionName": name})
        aliases = await self.calls.call(session, "lambda", "ListAliases", {"FunctionName": name})
        url = await self.calls.maybe(session, "lambda", "GetFunctionUrlConfig", {"FunctionName": name})
        concurrency = got.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        now = time.monotonic()
        envs = [
            [html.text(version), html.text(env.state.value), html.text(f"{now - env.born:.0f} s")]
            for arn, version, env in self.environments()
            if _name_of(arn) == name
        ]
        sections = [
            html.pairs(
                "Configuration",
                [
                    ("ARN", config["FunctionArn"]),
                    ("Package", config.get("PackageType")),
                    ("Image", got.get("Code", {}).get("ImageUri")),
                    ("Runtime", config.get("Runtime")),
                    ("Handler", config.get("Handler")),
                    ("Memory (MB)", config.get("MemorySize")),
                    ("Timeout (s)", config.get("Timeout")),
                    ("State", config.get("State")),
                    ("Reserved concurrency", "unreserved" if concurrency is None else concurrency),
                    ("Function URL", url.get("FunctionUrl") if url else "none"),
                    ("Last modified", config.get("LastModified")),
                ],
            ),
            html.table(
                "Versions",
                ["Version", "Description", "Last modified"],
                (
                    [
                        html.text(v["Version"]),
                        html.text(v.get("Description")),
                        html.text(v.get("LastModified")),
                    ]
                    for v in versions.get("Versions", [])
                ),
                "No versions.",
            ),
            html.table(
                "Aliases",
                ["Alias", "Version"],
                ([html.text(a["Name"]), html.text(a["FunctionVersion"])] for a in aliases.get("Aliases", [])),
                "No aliases.",
            ),
            html.table("Environments", ["Version", "State", "Age"], envs, "No environments: it is cold."),
            await self._mappings(session, name),
            await self._charts(session, name),
            f"<p>{html.link(html.function_href(name, '/logs'), 'Live log')}</p>",
            '<h2 id="invoke">Invoke</h2>',
            html.invoke_form(name, session.form_token, invoked[0] if invoked else "{}"),
        ]
        if invoked is not None:
            output = invoked[1]
            tail = base64.b64decode(output.get("LogResult", "")).decode("utf-8", "replace")
            sections.append(html.invoke_result(output, tail))
        return "".join(sections)

    async def _images(self, session: Session) -> str:
        images = await self.images(session.caller)
        rows = (
            [
                html.text(i.repository),
                html.text(", ".join(i.tags) or "untagged"),
                f"<code>{html.text(i.digest)}</code>",
                html.text(f"{i.size / 1e6:.1f} MB"),
                html.text(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(i.pushed_at))),
            ]
            for i in images
        )
        return html.table(
            f"{len(images)} images",
            ["Repository", "Tags", "Digest", "Size", "Pushed (UTC)"],
            rows,
            "No images.",
        )

    async def _mappings(self, session: Session, name: str) -> str:
        found = await self.calls.maybe(session, "lambda", "ListEventSourceMappings", {"FunctionName": name})
        rows = (
            [
                html.text(m["UUID"]),
                html.text(m.get("EventSourceArn")),
                html.text(m.get("State")),
                html.text(m.get("BatchSize")),
                html.text(m.get("LastProcessingResult")),
            ]
            for m in (found or {}).get("EventSourceMappings", [])
        )
        return html.table(
            "Event source mappings",
            ["UUID", "Source", "State", "Batch size", "Last result"],
            rows,
            "No mappings.",
        )

    async def _charts(self, session: Session, name: str) -> str:
        """The function's last hour in CloudWatch: invocations, errors and average duration per minute."""
        end = time.time() // 60 * 60 + 60
        start = end - CHART_S
        metric = {"Namespace": "AWS/Lambda", "Dimensions": [{"Name": "FunctionName", "Value": name}]}
        shown = (
            ("invocations", "Invocations", "Sum", "count"),
            ("errors", "Errors", "Sum", "count"),
            ("duration", "Duration", "Average", "ms"),
        )
        queries = [
            {
                "Id": key,
                "MetricStat": {"Metric": {**metric, "MetricName": metric_name}, "Period": 60, "Stat": stat},
            }
            for key, metric_name, stat, _ in shown
        ]
        params = {
            "MetricDataQueries": queries,
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
            "ScanBy": "TimestampAscending",
        }
        found = await self.calls.maybe(session, "cloudwatch", "GetMetricData", params)
        if found is None:  # the key may not read metrics: the page goes without them
            return ""
        results = {r["Id"]: r for r in found.get("MetricDataResults", [])}
        charts = []
        for key, metric_name, _, unit in shown:
            result = results.get(key, {})
            stamps, values = result.get("Timestamps", []), result.get("Values", [])
            points = [(t.timestamp(), float(v)) for t, v in zip(stamps, values, strict=True)]
            charts.append(html.chart(metric_name, unit, points, start, end))
        return (
            '<section aria-labelledby="metrics"><h2 id="metrics">Metrics</h2>'
            + "".join(charts)
            + "</section>"
        )

    async def _invoke(self, session: Session, name: str, payload: str) -> dict[str, Any]:
        params = {"FunctionName": name, "Payload": payload.encode(), "LogType": "Tail"}
        return await self.calls.call(session, "lambda", "Invoke", params)

    async def _live_log(self, session: Session, name: str, scope: Scope, send: Send) -> None:
        group = f"/aws/lambda/{name}"
        asked = {"logGroupName": group, "limit": 1}
        # allowed to read it? (Refused, shown as the page's error, before the stream starts)
        await self.calls.call(session, "logs", "FilterLogEvents", asked, missing_ok=True)
        query = dict(parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1")))
        start = live_log.resume_point(header(scope, b"last-event-id"), query.get("after"), live_log.now_ms())

        async def read(params: dict[str, Any]) -> dict[str, Any] | None:
            return await self.calls.maybe(session, "logs", "FilterLogEvents", params)

        await live_log.stream(read, group, start, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        form = await _form(receive)
        session = await self.sessions.sign_in(
            form.get("access_key_id", ""), form.get("secret_access_key", "")
        )
        if session is None:
            await _html(send, html.sign_in("That access key and secret do not match."), 401)
            return
        cookie = (
            f"{COOKIE}={session.token}; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={int(LIFETIME_S)}"
        )
        await _redirect(send, f"{PREFIX}/functions", cookie=cookie)

    async def _static(self, name: str, send: Send) -> None:
        kind = _STATIC.get(name)
        if kind is None:
            await respond(send, 404, b"not found")
            return
        body = resources.files("lambkin.api").joinpath("console_static", name).read_bytes()
        await respond(
            send, 200, body, [(b"content-type", kind.encode()), (b"cache-control", b"max-age=3600")]
        )


def _name_of(arn: str) -> str:
    return arn.split(":function:", 1)[-1].split(":", 1)[0]


def _cookie(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == b"cookie":
            for part in bytes(value).decode("latin-1").split(";"):
                name, _, token = part.strip().partition("=")
                if name == COOKIE:
                    return token
    return None


async def _form(receive: Receive) -> dict[str, str]:
    try:
        body = await read_body(receive, FORM_LIMIT)
    except ValueError:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


_SECURITY = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


async def _html(send: Send, page: str, status: int = 200) -> None:
    await respond(send, status, page.encode(), list(_SECURITY))


async def _redirect(send: Send, location: str, cookie: str | None = None, clear: bool = False) -> None:
    headers = [(b"location", location.encode()), (b"cache-control", b"no-store")]
    if cookie is not None:
        headers.append((b"set-cookie", cookie.encode()))
    if clear:
        headers.append(
            (b"set-cookie", f"{COOKIE}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0".encode())
        )
    await respond(send, 303, b"", headers)
