"""EventBridge pattern matching: the cost per event of matching it against 1,000 rules of a bus.

Run: .venv/bin/python -m bench.event_matching [--rules N] [--events N]

Compiles N rules of the kinds users write (exact source and detail-type, prefix, numeric ranges,
anything-but, exists, wildcard, $or; a few match any event, most do not), then matches a stream of events
against every one of them, as PutEvents does. Prints the time per event and per rule, and the ratio against
the anchor measured in the same run: reading the same event from its JSON text (what every PutEvents entry
costs anyway).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from lambkin.events.bridge.patterns import Pattern, compile_pattern
from lambkin.events.bridge.values import loads

SOURCES = [
    f"app.{name}" for name in ("orders", "billing", "users", "search", "mail", "audit", "cart", "stock")
]
TYPES = ["Created", "Updated", "Deleted", "Failed", "Retried"]


def pattern(i: int, draw: random.Random) -> dict[str, Any]:
    source, kind = draw.choice(SOURCES), draw.choice(TYPES)
    match i % 8:
        case 0:
            return {"source": [source], "detail-type": [kind]}
        case 1:
            return {
                "source": [{"prefix": source[:6]}],
                "detail": {"amount": [{"numeric": [">", draw.randint(0, 900)]}]},
            }
        case 2:
            return {"source": [source], "detail": {"country": [{"anything-but": ["FR", "DE", "US"]}]}}
        case 3:
            return {"detail": {"customer": {"tier": ["gold", "platinum"]}, "coupon": [{"exists": False}]}}
        case 4:
            return {"source": [source], "detail": {"path": [{"wildcard": "/api/*/orders/*"}]}}
        case 5:
            return {"$or": [{"source": [source]}, {"detail": {"amount": [{"numeric": [">=", 990]}]}}]}
        case 6:
            return {
                "detail-type": [{"equals-ignore-case": kind.upper()}],
                "detail": {"status": [{"suffix": "ed"}]},
            }
        case _:
            return {"source": [source], "detail": {"items": {"sku": [f"SKU-{draw.randint(0, 999)}"]}}}


def event(i: int, draw: random.Random) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": f"{i:08d}-0000-4000-8000-000000000000",
            "detail-type": draw.choice(TYPES),
            "source": draw.choice(SOURCES),
            "account": "000000000000",
            "time": "2026-12-05T17:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "amount": draw.randint(0, 1000),
                "country": draw.choice(["FR", "DE", "US", "JP", "BR"]),
                "customer": {"tier": draw.choice(["basic", "gold", "platinum"]), "id": i},
                "path": f"/api/v{draw.randint(1, 3)}/orders/{i}",
                "status": draw.choice(["created", "shipped", "lost"]),
                "items": [{"sku": f"SKU-{draw.randint(0, 999)}", "count": 1} for _ in range(3)],
            },
        }
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args(argv)
    draw = random.Random(7)
    rules: list[Pattern] = [compile_pattern(json.dumps(pattern(i, draw))) for i in range(args.rules)]
    texts = [event(i, draw) for i in range(args.events)]

    started = time.perf_counter()
    parsed = [loads(text) for text in texts]
    anchor = (time.perf_counter() - started) / args.events

    started = time.perf_counter()
    matched = sum(rule.matches(one) for one in parsed for rule in rules)
    per_event = (time.perf_counter() - started) / args.events

    print(
        f"rules: {args.rules}, events: {args.events}, matches: {matched} ({matched / args.events:.1f} per event)"
    )
    print(
        f"matching: {per_event * 1e6:.0f} us per event against {args.rules} rules ({per_event / args.rules * 1e9:.0f} ns per rule)"
    )
    print(f"anchor, reading the event's JSON: {anchor * 1e6:.1f} us per event")
    print(f"ratio matching/anchor: {per_event / anchor:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
