"""Cold burst: 12 cold starts asked for at once of a function whose init burns 3 s of CPU, on this host.

Run: .venv/bin/python -m bench.cold_burst [--starts N] [--init-cpu S] [--one-function]

`lambkin server` with python-handlers' `busy_init` handler (its import burns `--init-cpu` seconds of CPU, as
a heavy import such as scikit-learn's does). Anchor, in the same run: one cold start alone (the median of
three functions invoked one after another), and the ideal for N of them on this host's C cores,
ceil(N / C) x one cold start (inits are CPU-bound: C run at once at full speed). Then N functions of the same
image are invoked at once, one caller each, so that every caller needs a cold start of its own (with
`--one-function`, N callers of one function: a caller may then take an environment that finished another
caller's event, as Lambda's callers do). Prints how many were answered, the init timeouts found in the
functions' logs (INIT_REPORT ... Status: timeout), the time to the last answer and its ratio to the ideal.
Passes when every caller is answered and no init timed out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import MEMORY_MB, create_function, creds, lambkin_server


def configure(server: Any, name: str, uri: str, init_cpu_s: float) -> Any:
    return create_function(
        server,
        name,
        uri,
        ImageConfig={"Command": ["busy_init.handler"]},
        Environment={"Variables": {"BUSY_INIT_SECONDS": str(init_cpu_s)}},
        MemorySize=MEMORY_MB,
        Timeout=30,
    )


def invoke(lam: Any, name: str, caller: int) -> tuple[bool, float]:
    """Whether the caller got its event back, and when (perf_counter)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"caller": caller}).encode())
    payload = json.loads(response["Payload"].read())
    answered = "FunctionError" not in response and payload.get("event") == {"caller": caller}
    return answered, time.perf_counter()


def init_timeouts(server: Any, names: list[str], callers: int) -> int:
    """INIT_REPORT lines with Status: timeout in the functions' logs, once every REPORT is in (or a minute)."""
    logs = server.client("logs")
    deadline = time.monotonic() + 60
    while True:
        text = ""
        for name in set(names):
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            text += "\n".join(event["message"] for event in events)
        if text.count("REPORT RequestId") >= callers or time.monotonic() > deadline:
            return text.count("Status: timeout")
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cold_burst")
    parser.add_argument("--starts", type=int, default=12)
    parser.add_argument("--init-cpu", type=float, default=3.0)
    parser.add_argument("--one-function", action="store_true")
    args = parser.parse_args(argv)
    from botocore.config import Config
    from tests.images import push

    cores = os.cpu_count() or 1
    with lambkin_server({"LAMBKIN_IDLE_TIMEOUT": "600"}, name="cold-burst") as server:
        uri = push("python-handlers", server.registry, creds(), tag="bench")
        configure(server, "unpack", uri, 0.0).invoke(FunctionName="unpack", Payload=b"{}")  # layers unpacked
        singles = []
        for i in range(3):
            lam = configure(server, f"single-{i}", uri, args.init_cpu)
            started = time.perf_counter()
            answered, ended = invoke(lam, f"single-{i}", 0)
            assert answered, "a single cold start failed"
            singles.append(ended - started)
        single = statistics.median(singles)
        alone_timeouts = init_timeouts(server, [f"single-{i}" for i in range(3)], 3)
        names = ["burst"] * args.starts if args.one_function else [f"burst-{i}" for i in range(args.starts)]
        for name in sorted(set(names)):
            configure(server, name, uri, args.init_cpu)
        config = Config(read_timeout=600, retries={"max_attempts": 0}, max_pool_connections=args.starts)
        lam = server.client("lambda", config=config)
        barrier = threading.Barrier(args.starts + 1)

        def caller(i: int) -> tuple[bool, float]:
            barrier.wait()
            return invoke(lam, names[i], i)

        with ThreadPoolExecutor(args.starts) as pool:
            futures = [pool.submit(caller, i) for i in range(args.starts)]
            barrier.wait()
            started = time.perf_counter()
            results = [future.result() for future in futures]
        last = max(ended for _, ended in results) - started
        answered = sum(1 for ok, _ in results if ok)
        timeouts = init_timeouts(server, names, args.starts)
    ideal = math.ceil(args.starts / cores) * single
    ratio = last / ideal
    shape = "one function" if args.one_function else f"{args.starts} functions"
    print(f"cold burst, python-handlers busy_init ({args.init_cpu:.1f} s of CPU at init), {cores} cores")
    print(
        f"anchor  one cold start alone               : median {single:.2f} s  ({', '.join(f'{s:.2f}' for s in singles)})"
    )
    if alone_timeouts:
        print(
            f"  ({alone_timeouts} init timeouts with one start alone: others load this host, figures are not meaningful)"
        )
    print(f"anchor  ideal for {args.starts} = ceil({args.starts}/{cores}) x one     : {ideal:.2f} s")
    print(
        f"lambkin {args.starts} callers at once ({shape}): {answered}/{args.starts} answered, {timeouts} init timeouts, last answer after {last:.2f} s"
    )
    verdict = "PASS" if answered == args.starts and timeouts == 0 else "FAIL"
    print(f"ratio last answer/ideal = {ratio:.2f} -> {verdict} (all answered, no init timeout)")
    print(
        json.dumps(
            {
                "bench": "cold_burst",
                "starts": args.starts,
                "cores": cores,
                "single_s": single,
                "ideal_s": ideal,
                "last_answer_s": last,
                "ratio": ratio,
                "answered": answered,
                "init_timeouts": timeouts,
                "alone_init_timeouts": alone_timeouts,
            }
        )
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
