"""The console's pages as HTML (server-rendered, every value escaped; no script but the live log's)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from lambkin import json_depth

STYLE = "/console/static/console.css"
LOGS_SCRIPT = "/console/static/logs.js"


def page(title: str, body: str, signed_in_as: str | None = None, script: str | None = None) -> str:
    nav = ""
    if signed_in_as is not None:
        nav = (
            '<nav aria-label="Sections"><a href="/console/functions">Functions</a>'
            '<a href="/console/queues">Queues</a>'
            '<a href="/console/images">Images</a>'
            f'<span class="who">Signed in as {escape(signed_in_as)}</span>'
            '<form method="post" action="/console/sign-out"><button type="submit">Sign out</button></form></nav>'
        )
    tail = f'<script src="{script}" defer></script>' if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)} · lambkin</title><link rel="stylesheet" href="{STYLE}">{tail}</head>'
        f'<body><header><a class="brand" href="/console">lambkin</a>{nav}</header>'
        f'<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>'
    )


def sign_in(problem: str | None = None) -> str:
    alert = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    form = (
        f'{alert}<form method="post" action="/console/sign-in" class="stack">'
        '<label for="key">Access key ID</label>'
        '<input id="key" name="access_key_id" autocomplete="username" required>'
        '<label for="secret">Secret access key</label>'
        '<input id="secret" name="secret_access_key" type="password" autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in", form)


def table(caption: str, headings: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table whose cells are HTML already (escape text with `text`, links with `link`)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headings)
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text(value: object) -> str:
    return escape("" if value is None else str(value))


def link(href: str, label: str) -> str:
    return f'<a href="{escape(href)}">{escape(label)}</a>'


def function_href(name: str, rest: str = "") -> str:
    return f"/console/functions/{quote(name, safe='')}{rest}"


def queue_href(name: str, rest: str = "") -> str:
    return f"/console/queues/{quote(name, safe='')}{rest}"


def problem(message: str) -> str:
    return f'<p class="problem" role="alert">{escape(message)}</p>'


def pairs(caption: str, items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td>{text(v)}</td></tr>' for k, v in items if v is not None
    )
    return f'<table class="pairs"><caption>{escape(caption)}</caption><tbody>{rows}</tbody></table>'


def invoke_form(name: str, form_token: str, payload: str) -> str:
    return (
        f'<form method="post" action="{escape(function_href(name, "/invoke"))}" class="stack">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        '<label for="payload">Event (JSON)</label>'
        f'<textarea id="payload" name="payload" rows="6">{escape(payload)}</textarea>'
        '<button type="submit">Invoke</button></form>'
    )


def invoke_result(output: dict[str, Any], log_tail: str) -> str:
    payload = output.get("Payload", b"")
    shown = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    with contextlib.suppress(ValueError):  # JSON is shown indented, anything else as it came
        shown = json.dumps(json_depth.loads(shown), indent=2)
    status = "Function error: " + str(output["FunctionError"]) if output.get("FunctionError") else "Succeeded"
    return (
        f'<section aria-labelledby="result"><h2 id="result">Result</h2><p class="status">{escape(status)}</p>'
        f'<pre id="response">{escape(shown)}</pre><h3>Log tail</h3><pre id="log-tail">{escape(log_tail)}</pre></section>'
    )


def live_log(name: str, rendered_ms: int) -> str:
    """The live log's frame; its stream starts at the page's rendering (api/console_live_log.py)."""
    stream = escape(function_href(name, f"/logs/stream?after={rendered_ms}"))
    return (
        f"<p>New lines of the function's log appear below as they are written.</p>"
        f'<pre id="live-log" data-stream="{stream}" aria-live="polite" tabindex="0"></pre>'
    )


def send_form(name: str, form_token: str) -> str:
    return (
        f'<form method="post" action="{escape(queue_href(name, "/send"))}" class="stack">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        '<label for="body">Message body</label><textarea id="body" name="body" rows="3" required></textarea>'
        '<button type="submit">Send</button></form>'
    )


def action_button(href: str, form_token: str, label: str) -> str:
    return (
        f'<form method="post" action="{escape(href)}" class="inline">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def chart(title: str, unit: str, points: Sequence[tuple[float, float]], start: float, end: float) -> str:
    """A bar chart (inline SVG, no script) of (epoch seconds, value) points between `start` and `end`, with
    its numbers in a table for screen readers and keyboards."""
    width, height, gap = 600, 120, 1
    top = max((value for _, value in points), default=0.0) or 1.0
    slot = width / max((end - start) / 60, 1)
    bars = "".join(
        f'<rect x="{(at - start) / 60 * slot:.1f}" y="{height - value / top * height:.1f}" '
        f'width="{max(slot - gap, 1):.1f}" height="{value / top * height:.1f}"></rect>'
        for at, value in points
    )
    label = f"{title} per minute over the last hour, at most {top:g} {unit}"
    rows = "".join(f"<tr><td>{escape(_clock(at))}</td><td>{value:g}</td></tr>" for at, value in points)
    data = (
        f'<details><summary>{escape(title)}: the numbers</summary><table><thead><tr><th scope="col">Minute (UTC)'
        f'</th><th scope="col">{escape(unit)}</th></tr></thead><tbody>{rows}</tbody></table></details>'
    )
    return (
        f'<figure class="chart"><figcaption>{escape(label)}</figcaption>'
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" class="bars">{bars}</svg>{data if points else "<p>No data.</p>"}</figure>'
    )


def _clock(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at))
