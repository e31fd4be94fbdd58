"""What waking a sleeping peer costs on this machine: the question busy polling's gain depends on.

Run: .venv/bin/python -m bench.wakeup [--rounds N]

Two processes ping-pong one byte over a loopback TCP connection (as lambkin and a runtime, or a client and
lambkin, do), each side either sleeping in the kernel between messages (select, as an idle event loop in
epoll) or spinning on a non-blocking socket (as a busy-polling loop). For each pairing it prints the round
trip's p50/p90 and what the sender's send() costs: a send to a sleeping peer also pays for waking it.
With the machine's idle driver (a VM without cpuidle states idles in HLT, a VM exit) and its core count, the
difference between "sleep" and "spin" is what a busy-polling loop can save per wake-up, at most; what it
costs is the core it takes from the others (docs/design/warm-invoke.md).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import time
from pathlib import Path


def _serve(sock: socket.socket, spin: bool) -> None:
    sock.setblocking(not spin)
    while True:
        data = _receive(sock, spin)
        if not data or data == b"q":
            return
        sock.send(data)


def _receive(sock: socket.socket, spin: bool) -> bytes:
    if not spin:
        select.select([sock], [], [])
        return sock.recv(64)
    while True:
        try:
            return sock.recv(64)
        except BlockingIOError:
            pass


def _client(sock: socket.socket, spin: bool, rounds: int) -> tuple[list[float], list[float]]:
    sock.setblocking(not spin)
    trips, sends = [], []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        sock.send(b"x")
        sent = time.perf_counter_ns()
        _receive(sock, spin)
        trips.append((time.perf_counter_ns() - started) / 1000)
        sends.append((sent - started) / 1000)
    sock.setblocking(True)
    sock.send(b"q")
    return sorted(trips), sorted(sends)


def _pair() -> tuple[socket.socket, socket.socket]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        near = socket.create_connection(listener.getsockname())
        far, _ = listener.accept()
    for sock in (near, far):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return near, far


def measure(client_spins: bool, server_spins: bool, rounds: int) -> dict[str, float]:
    near, far = _pair()
    pid = os.fork()
    if pid == 0:
        near.close()
        _serve(far, server_spins)
        os._exit(0)
    far.close()
    trips, sends = _client(near, client_spins, rounds)
    os.waitpid(pid, 0)
    near.close()
    return {
        "rtt_p50_us": trips[len(trips) // 2],
        "rtt_p90_us": trips[len(trips) * 9 // 10],
        "send_p50_us": sends[len(sends) // 2],
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "(none)"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.wakeup")
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    driver = _read("/sys/devices/system/cpu/cpuidle/current_driver")
    print(f"{os.cpu_count()} CPUs, cpuidle driver {driver}, load {os.getloadavg()[0]:.2f}")
    results = {}
    for client_spins, server_spins in ((False, False), (False, True), (True, False), (True, True)):
        name = (
            f"client {'spins' if client_spins else 'sleeps'}, server {'spins' if server_spins else 'sleeps'}"
        )
        figures = results[name] = measure(client_spins, server_spins, args.rounds)
        print(
            f"{name:30s}: round trip p50 {figures['rtt_p50_us']:6.1f} us  p90 {figures['rtt_p90_us']:6.1f} us"
            f"   send() p50 {figures['send_p50_us']:5.1f} us"
        )
    print(json.dumps({"bench": "wakeup", "cpus": os.cpu_count(), "cpuidle": driver, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
