"""Who should own a key among named nodes: rendezvous (highest random weight) hashing.

Every node computes the same order from the same names, without talking to the others; when a node leaves,
only the keys it ranked first move (each to its own next node), and a node that joins takes keys from every
other node evenly. The weight is a keyed BLAKE2b, never Python's `hash()` (salted per process).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b


def _weight(key: str, name: str) -> int:
    digest = blake2b(key.encode(), key=name.encode()[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank(key: str, names: Sequence[str]) -> list[str]:
    """`names` from the node that should own `key` first to the one that should own it last."""
    return sorted(names, key=lambda name: (_weight(key, name), name), reverse=True)


def owner(key: str, names: Sequence[str]) -> str | None:
    """The node that should own `key` (None with no nodes at all)."""
    return max(names, key=lambda name: (_weight(key, name), name), default=None)
