"""The cluster tests' functions: python-handlers running a handler of probe.py, and what their reports mean."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.e2e.lambda_support import create_active

PROBE = (Path(__file__).parent / "probe.py").read_text()
# The image's own runtime client (awslambdaric) with probe.py beside it: the source comes in an environment
# variable (Lambda's limit is 4 KB in all) and is written to /tmp, the working directory, as the sandbox starts.
ENTRY_POINT = [
    "/bin/sh",
    "-c",
    'printf "%s" "$PROBE_SOURCE" > /tmp/probe.py && exec /usr/bin/python3 -m awslambdaric "$0"',
]


def probe_function(
    lam: Any, name: str, image_uri: str, handler: str, env: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """Creates `name` from python-handlers running probe.`handler` (span or record) and waits until Active."""
    return create_active(
        lam,
        name,
        image_uri,
        ImageConfig={"EntryPoint": ENTRY_POINT, "Command": [f"probe.{handler}"], "WorkingDirectory": "/tmp"},
        Environment={"Variables": {"PROBE_SOURCE": PROBE, **(env or {})}},
        **extra,
    )


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """How many of the (start, end) intervals overlapped at most (one ending as another starts: not both)."""
    edges = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most
