"""The console's function list with 1,000 functions, loaded in headless Chromium (Debian's, through
Playwright): the page's load time (navigation start to load event, median of 7) against its anchor measured in
the same run, the same 1,000 functions listed through the API by boto3 (20 pages of 50, as the page needs
them). Target: under 500 ms on this machine.

    python -m bench.console_load [--functions 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from bench.control_plane import KEY, SECRET, lambkin_server

CHROMIUM = "/usr/bin/chromium"
LOADS = 7


def list_all(lam: Any) -> float:
    started = time.perf_counter()
    for _ in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 50}):
        pass
    return time.perf_counter() - started


def served(endpoint: str, cookies: list[Any]) -> float:
    """Seconds for lambkin to answer the page alone (no browser), median of LOADS."""
    jar = {c["name"]: c["value"] for c in cookies}
    with httpx.Client(base_url=endpoint, cookies=jar) as client:
        times = []
        for _ in range(LOADS):
            started = time.perf_counter()
            client.get("/console/functions").raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def page_loads(endpoint: str, count: int) -> tuple[list[float], float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(base_url=endpoint)
        page.goto("/console/sign-in")
        page.get_by_label("Access key ID").fill(KEY)
        page.get_by_label("Secret access key").fill(SECRET)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/functions")
        rows = page.locator("tbody tr").count()
        assert rows == count, rows
        loads = []
        for _ in range(LOADS):
            page.goto("/console/functions")
            timing = page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; })()"
            )
            loads.append(float(timing) / 1000)
        server = served(endpoint, page.context.cookies())
        browser.close()
        return loads, server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=1000)
    args = parser.parse_args(argv)
    with lambkin_server(args.functions) as (lam, _):
        endpoint = lam.meta.endpoint_url
        anchor = statistics.median(list_all(lam) for _ in range(LOADS))
        loads, server = page_loads(endpoint, args.functions)
    page = statistics.median(loads)
    print(
        f"console function list, {args.functions} functions: page load p50 {page * 1000:.0f} ms "
        f"(min {min(loads) * 1000:.0f}, max {max(loads) * 1000:.0f})"
    )
    print(f"of which lambkin's answer alone (httpx): p50 {server * 1000:.0f} ms")
    print(f"anchor, ListFunctions through boto3 (all pages): p50 {anchor * 1000:.0f} ms")
    print(
        f"ratio page / anchor: {page / anchor:.2f}; target: page under 500 ms -> "
        f"{'met' if page < 0.5 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
