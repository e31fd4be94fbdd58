"""Random identifiers in AWS's shapes, cheap enough for every request: request and message IDs (UUID v4
text) and X-Ray trace headers. None of them is a secret (receipt handles and keys use `secrets`)."""

from __future__ import annotations

import random
import time

_random = random.Random()  # its own state: nothing else reseeds or draws from it
_VARIANT = "89ab"


def uuid4() -> str:
    """A random UUID, version 4, as text (what str(uuid.uuid4()) gives, at a fraction of its cost)."""
    h = f"{_random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def hex_token(nbytes: int) -> str:
    """`nbytes` random bytes as hex: a unique token where guessing it gains nothing (a delivery's receipt)."""
    return f"{_random.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def trace_header() -> str:
    """An X-Ray trace header for an invocation the caller did not trace."""
    root = f"1-{int(time.time()):08x}-{_random.getrandbits(96):024x}"
    return f"Root={root};Parent={_random.getrandbits(64):016x};Sampled=0"
