"""python-echo: the handler returns its event unchanged."""

from typing import Any


def handler(event: Any, context: Any) -> Any:
    return event
