"""Networking's cost: cold start with an outward network vs without (LAMBKIN_NETWORK=none), and egress
throughput from a sandbox's network namespace vs from the host, to the same test namespace.

Run: .venv/bin/python -m bench.network_cold_start [--samples N] [--seconds S]

- cold start: two `lambkin server`s of this run, one with the default network (`internet`), one with
  `none`; N functions of the python-echo image on each, each invoked once (no environment yet), the two
  servers taken in turn (each first
  every other time), timed by the client from request to response. Ratio internet/none (target <= 1.05).
- egress: the tests' own world (tests/world.py: a namespace in 198.51.100.0/24) runs `iperf3 -s`; `iperf3 -c`
  runs in the host's namespace (anchor), then in the network namespace of a warm sandbox of the internet
  server (through its veth, the forward rules and NAT, as the function's traffic goes). Ratio sandbox/host
  (target >= 0.8). The client is iperf3 itself in both runs: it measures the network path, not the function.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import LambkinServer
from tests.world import world

from bench.support import create_function, creds, lambkin_connection, lambkin_server, post, signed_invoke

TARGET_COLD = 1.05
TARGET_EGRESS = 0.8


def cold_once(server: LambkinServer, name: str) -> float:
    body = b'{"cold": true}'
    path, headers = signed_invoke(server, name, body)
    conn = lambkin_connection(server)
    started = time.perf_counter()
    post(conn, path, body, headers)
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return elapsed


def iperf(address: str, seconds: int, namespace_of: int | None = None) -> float:
    """Bits per second of one `iperf3 -c` run to `address`, from the host or the namespace of a process."""
    command = ["iperf3", "-c", address, "-t", str(seconds), "-J"]
    if namespace_of is not None:
        command = ["nsenter", f"--net=/proc/{namespace_of}/ns/net", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.network_cold_start")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args(argv)
    from tests.images import push

    samples: dict[str, list[float]] = {"internet": [], "none": []}
    with tempfile.TemporaryDirectory() as scratch, world(Path(scratch)) as outside:
        env = {"LAMBKIN_IDLE_TIMEOUT": "600", "LAMBKIN_NETWORK_DNS": outside.address}
        with (
            lambkin_server({**env, "LAMBKIN_NETWORK": "internet"}, name="net-internet") as online,
            lambkin_server({**env, "LAMBKIN_NETWORK": "none"}, name="net-none") as offline,
        ):
            names = [f"cold-{i}" for i in range(args.samples + 1)]
            for server in (online, offline):
                uri = push("python-echo", server.registry, creds(), tag="bench")
                for name in names:
                    create_function(server, name, uri)
            time.sleep(1)  # both servers' namespace pools filled
            for i, name in enumerate(names):
                turns = [("internet", online), ("none", offline)]
                for mode, server in turns if i % 2 else reversed(turns):  # each goes first every other time
                    elapsed = cold_once(server, name)
                    if i:  # the first one unpacks the image
                        samples[mode].append(elapsed)
            iperf_server = outside.run("iperf3", "-s", "-B", outside.address, stdout=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                host_bps = iperf(outside.address, args.seconds)
                sandbox_pid = int(next((online.data_dir / "sandboxes").glob("*/pid")).read_text())
                sandbox_bps = iperf(outside.address, args.seconds, namespace_of=sandbox_pid)
            finally:
                iperf_server.terminate()
                iperf_server.wait()
    internet50, none50 = statistics.median(samples["internet"]), statistics.median(samples["none"])
    cold_ratio, egress_ratio = internet50 / none50, sandbox_bps / host_bps
    print(f"cold start, python-echo, {len(samples['none'])} samples each, servers taken in turn")
    print(f"none     (anchor): median {none50:.1f} ms  min {min(samples['none']):.1f}")
    print(f"internet         : median {internet50:.1f} ms  min {min(samples['internet']):.1f}")
    verdict = "PASS" if cold_ratio <= TARGET_COLD else "FAIL"
    print(f"ratio internet/none = {cold_ratio:.3f} (target <= {TARGET_COLD}) -> {verdict}")
    print(f"egress to the test namespace, iperf3 {args.seconds} s each")
    print(f"host     (anchor): {host_bps / 1e9:.2f} Gbit/s")
    print(f"sandbox          : {sandbox_bps / 1e9:.2f} Gbit/s")
    verdict = "PASS" if egress_ratio >= TARGET_EGRESS else "FAIL"
    print(f"ratio sandbox/host = {egress_ratio:.2f} (target >= {TARGET_EGRESS}) -> {verdict}")
    print(
        json.dumps(
            {
                "bench": "network_cold_start",
                "internet_ms": internet50,
                "none_ms": none50,
                "cold_ratio": cold_ratio,
                "host_bps": host_bps,
                "sandbox_bps": sandbox_bps,
                "egress_ratio": egress_ratio,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
