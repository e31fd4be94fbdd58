"""The tests' own outside world: a network namespace with an address from 198.51.100.0/24 (a documentation
range) and, where the host has IPv6, one from 2001:db8::/32 (IPv6's), linked to the host and reached through
the host's routing, running an HTTP server on each and dnsmasq that answers WORLD_NAME (A) and WORLD6_NAME
(AAAA only). Nothing outside the namespaces the tests make is ever contacted."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from lambkin.network import ipv6
from lambkin.network.policy import DEFAULT_RANGE6
from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

WORLD_NAME = "world.lambkin.test"
WORLD6_NAME = "world6.lambkin.test"  # an AAAA record only: reached over IPv6 or not at all
PAGE = "/lambkin-test-world.txt"  # the world's HTTP server answers 200 for this path, 404 for others
_NETWORK = "198.51.100.0/24"
_PREFIX = "lkw"  # its links: never lambkin's own (lkn*)
_NAMESPACE = "lambkin-test-world-"  # then the test run's pid

NEEDS_TOOLS = pytest.mark.skipif(
    shutil.which("nft") is None or shutil.which("dnsmasq") is None, reason="needs nft, dnsmasq"
)


@dataclass(frozen=True)
class World:
    namespace: str
    host_address: str  # the host's end of the link: an address of the host
    address: str  # the world's own address: its HTTP server on :80, dnsmasq on :53
    # Where the host has IPv6, the IPv6 ends of the link (the world's with an HTTP server on :80); else why not.
    host_address6: str | None = None
    address6: str | None = None
    no_ipv6: str = ""

    def ipv6(self) -> tuple[str, str]:
        """The host's and the world's IPv6 addresses; skips the test on a host without IPv6."""
        if self.host_address6 is None or self.address6 is None:
            pytest.skip(f"the host has no IPv6 for sandboxes: {self.no_ipv6}")
        return self.host_address6, self.address6

    def run(self, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        """Starts a process inside the world's namespace."""
        return subprocess.Popen(["ip", "netns", "exec", self.namespace, *args], **kwargs)  # type: ignore[call-overload]

    def can_connect(self, address: str, port: int) -> bool:
        """Whether a TCP connection from inside the world to `address`:`port` succeeds (within 2 s)."""
        probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=2).close()"
        done = subprocess.run(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-c", probe],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _wait(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise TimeoutError(f"the test world's {what} did not come up")


def no_ipv6() -> str:
    """Why lambkin would give sandboxes no IPv6 on this host (as lambkin decides it), or ""."""
    reason = ipv6.missing()
    if reason is None and not ipv6.host_addresses(DEFAULT_RANGE6):
        reason = "the host has no global or unique local IPv6 address"
    return reason or ""


def _http_up(address: str) -> bool:
    socket.create_connection((address, 80), timeout=1).close()
    return True


def dns_query(name: str) -> bytes:
    """A DNS query for `name`'s A record, as a stub resolver sends it."""
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack("!HHHHHH", 0x4C4B, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", 1, 1)


def _dns_up(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(dns_query(WORLD_NAME), (address, 53))
        return sock.recv(512)[:2] == b"\x4c\x4b"


def _remove_abandoned() -> None:
    """Removes the worlds of test runs that died without cleaning up (killed): their processes, namespace
    and link. A world whose run is alive is left alone."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(_NAMESPACE):
            continue
        owner = name.removeprefix(_NAMESPACE).split("-")[0]
        if owner.isdigit() and Path(f"/proc/{owner}").exists():
            continue
        pids = subprocess.run(
            ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
        ).stdout
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextlib.contextmanager
def world(directory: Path) -> Iterator[World]:
    """Makes the world, serves in it, and removes all of it (processes, namespace, link) at the end."""
    _remove_abandoned()
    tag = f"{os.getpid() % 10000}{random.randrange(1000)}"
    namespace, host_link = f"{_NAMESPACE}{os.getpid()}-{tag}", f"{_PREFIX}{tag}"
    base = 4 * random.randrange(1, 63)  # one /30 of the documentation range, so parallel runs rarely meet
    host_address, address = f"198.51.100.{base + 1}", f"198.51.100.{base + 2}"
    missing6 = no_ipv6()
    net6 = f"2001:db8:{random.randrange(1, 0xFFFF):x}:{random.randrange(0xFFFF):x}"  # a /64 of IPv6's
    host_address6, address6 = (None, None) if missing6 else (f"{net6}::1", f"{net6}::2")
    processes: list[subprocess.Popen[bytes]] = []
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", host_link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("addr", "add", f"{host_address}/30", "dev", host_link)
        _ip("link", "set", host_link, "up")
        inside = ("-n", namespace)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "addr", "add", f"{address}/30", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        _ip(*inside, "route", "add", "default", "via", host_address)
        if host_address6 is not None and address6 is not None:
            _ip("addr", "add", f"{host_address6}/64", "dev", host_link, "nodad")
            _ip(*inside, "addr", "add", f"{address6}/64", "dev", "eth0", "nodad")
            _ip(*inside, "route", "add", "default", "via", host_address6)
        made = World(namespace, host_address, address, host_address6, address6, missing6)
        site = directory / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / PAGE.lstrip("/")).write_text("hello from the test world")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(
            made.run(
                sys.executable,
                "-m",
                "http.server",
                "80",
                "--bind",
                address,
                "--directory",
                str(site),
                **quiet,
            )
        )
        if address6 is not None:
            processes.append(
                made.run(
                    sys.executable,
                    "-m",
                    "http.server",
                    "80",
                    "--bind",
                    address6,
                    "--directory",
                    str(site),
                    **quiet,
                )
            )
        named6 = [f"--address=/{WORLD6_NAME}/{address6}", f"--local=/{WORLD6_NAME}/"] if address6 else []
        processes.append(
            made.run(
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                f"--listen-address={address}",
                f"--address=/{WORLD_NAME}/{address}",
                *named6,
                "--pid-file=",
                **quiet,
            )
        )
        _wait(lambda: _http_up(address), "HTTP server")
        _wait(lambda: _dns_up(address), "DNS server")
        if address6 is not None:
            _wait(lambda: _http_up(address6), "HTTP server on IPv6")
        yield made
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", host_link], check=False, capture_output=True)


def instance_of(data_dir: Path) -> str:
    """The instance name lambkin derives from its data directory (its table, its links' alias)."""
    import hashlib

    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]


def links_of(data_dir: Path) -> dict[int, str]:
    """The host ends of the links of the lambkin instance at `data_dir`, by interface index: their address."""
    import json

    alias = f"lambkin {instance_of(data_dir)}"
    shown = json.loads(subprocess.run(["ip", "-d", "-j", "addr"], capture_output=True, check=True).stdout)
    return {
        link["ifindex"]: next((a["local"] for a in link.get("addr_info", []) if a["family"] == "inet"), "")
        for link in shown
        if link.get("ifalias") == alias
    }


def addresses6_of(data_dir: Path) -> dict[int, list[str]]:
    """The IPv6 addresses (unique local and link-local) of the host ends of the instance's links, by index."""
    import json

    alias = f"lambkin {instance_of(data_dir)}"
    shown = json.loads(subprocess.run(["ip", "-d", "-j", "addr"], capture_output=True, check=True).stdout)
    return {
        link["ifindex"]: [a["local"] for a in link.get("addr_info", []) if a["family"] == "inet6"]
        for link in shown
        if link.get("ifalias") == alias
    }


def link_names_of(data_dir: Path) -> set[str]:
    """The names of the host ends of the links of the lambkin instance at `data_dir`."""
    import json

    alias = f"lambkin {instance_of(data_dir)}"
    shown = json.loads(subprocess.run(["ip", "-d", "-j", "link"], capture_output=True, check=True).stdout)
    return {link["ifname"] for link in shown if link.get("ifalias") == alias}


def routes6() -> list[tuple[str, str]]:
    """Every IPv6 route of the host's main table: its destination and device."""
    import json

    routes = json.loads(subprocess.run(["ip", "-6", "-j", "route"], capture_output=True, check=True).stdout)
    return [(route["dst"], route.get("dev", "")) for route in routes]


@dataclass(frozen=True)
class Table:
    handle: int  # the kernel numbers every new table anew
    rules: int


def table_of(data_dir: Path) -> Table | None:
    """The instance's nftables table, or None when it has none."""
    import json

    done = subprocess.run(
        ["nft", "-j", "list", "table", "inet", f"lambkin_{instance_of(data_dir)}"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    items = json.loads(done.stdout)["nftables"]
    handle = next(item["table"]["handle"] for item in items if "table" in item)
    return Table(handle, sum(1 for item in items if "rule" in item))


def world_server(directory: Path, outside: World, **env: str) -> LambkinServer:
    """A started lambkin server under `directory` whose sandboxes resolve names with the world's dnsmasq."""
    return LambkinServer(directory / "data", env={"LAMBKIN_NETWORK_DNS": outside.address, **env}).start()


def vpc_world_server(
    directory: Path,
    outside: World,
    vpc_id: str,
    subnet: tuple[str, str],
    group: str,
    egress: list[dict[str, Any]],
) -> LambkinServer:
    """A world server whose VPC file (LAMBKIN_VPC_CONFIG) holds one VPC: one subnet (its id and CIDR) and one
    security group with these egress rules (EC2's IpPermissionsEgress)."""
    subnet_id, cidr = subnet
    vpc = {
        "VpcId": vpc_id,
        "Subnets": [{"SubnetId": subnet_id, "CidrBlock": cidr}],
        "SecurityGroups": [{"GroupId": group, "IpPermissionsEgress": egress}],
    }
    (directory / "vpc.json").write_text(json.dumps({"Vpcs": [vpc]}))
    return world_server(directory, outside, LAMBKIN_VPC_CONFIG=str(directory / "vpc.json"))


def network_functions(
    server: LambkinServer, images: BuiltImages, functions: Mapping[str, dict[str, Any]]
) -> Any:
    """A Lambda client of `server` after creating each of `functions` (name: CreateFunction's extra
    arguments) on the test images' `app.network` handler, active."""
    client = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    uri = images.push("python-handlers", server.registry, tag="v1")
    for name, extra in functions.items():
        create_active(client, name, uri, ImageConfig={"Command": ["app.network"]}, Timeout=15, **extra)
    return client


@contextlib.contextmanager
def listening_on_host() -> Iterator[int]:
    """A TCP listener on every address of the host, on a free port: what a sandbox must not reach."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def connects(lam: Any, name: str, host: str, port: int) -> dict[str, Any]:
    """What function `name` (on `app.network`) reports of a TCP connection it tries to host:port (2 s)."""
    response = lam.invoke(
        FunctionName=name, Payload=json.dumps({"host": host, "port": port, "timeout": 2}).encode()
    )
    body: dict[str, Any] = json.loads(response["Payload"].read())
    return body
