"""A fake of the cluster's view of its ready nodes, as placement reads it (for unit tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    name: str
    extra: Mapping[str, Any] = field(default_factory=dict)


class FakeNodes:
    """This node (`name`), the ready nodes given, and what this node publishes."""

    def __init__(self, name: str, ready: list[Node]) -> None:
        self.name = name
        self._ready = ready
        self.published: dict[str, Any] = {}

    def ready(self) -> Sequence[Node]:
        return self._ready

    def publish(self, key: str, value: Any) -> None:
        self.published[key] = value
