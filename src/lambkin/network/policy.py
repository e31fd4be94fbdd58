"""The network policy of one lambkin instance: its mode, address range, denied ranges and DNS upstreams."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

# Out of every common LAN: RFC 6598's shared address space is for carrier-grade NAT, never a site's LAN, nor
# Docker's or a cloud VPC's default pools; its top /16 is the part carriers hand out last.
DEFAULT_RANGE = IPv4Network("100.127.0.0/16")
_SHARED = IPv4Network("100.64.0.0/10")
# What no sandbox reaches whatever the settings: "this network", loopback, link-local (the cloud metadata
# address among them), multicast and reserved space.
ALWAYS_DENIED = tuple(
    IPv4Network(cidr) for cidr in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
RESOLV_CONF = Path("/etc/resolv.conf")


class Mode(enum.Enum):
    INTERNET = "internet"  # an interface, a default route through the host, source NAT, DNS
    NONE = "none"  # only the loopback: the Runtime API and lambkin's in-sandbox endpoint


class PolicyError(ValueError):
    """A network setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Slot:
    """One sandbox's point-to-point link: /31 addresses, the host's end and the sandbox's."""

    index: int
    host: IPv4Address
    sandbox: IPv4Address

    @property
    def host_link(self) -> str:
        """The host end's interface name, unique on the host: creating it claims the slot."""
        return f"{LINK_PREFIX}{self.index}"


LINK_PREFIX = "lkn"


@dataclass(frozen=True)
class NetworkPolicy:
    mode: Mode = Mode.INTERNET
    range: IPv4Network = DEFAULT_RANGE
    denied: tuple[IPv4Network, ...] = ()
    dns: tuple[IPv4Address, ...] = ()  # upstream resolvers; () reads the host's /etc/resolv.conf

    @property
    def slots(self) -> int:
        return self.range.num_addresses // 2

    def slot(self, index: int) -> Slot:
        base = self.range.network_address + 2 * (index % self.slots)
        return Slot(index % self.slots, base, base + 1)

    @property
    def blocked(self) -> tuple[IPv4Network, ...]:
        """Every destination a sandbox's packets are dropped for when forwarded."""
        return (*ALWAYS_DENIED, self.range, *self.denied)


def _network(name: str, text: str) -> IPv4Network:
    try:
        return IPv4Network(text.strip(), strict=False)
    except ValueError as exc:
        raise PolicyError(f"{name}: {text!r} is not an IPv4 range ({exc})") from None


def parse(mode: str, range_: str, denied: str, dns: str) -> NetworkPolicy:
    """The policy from the settings' texts: LAMBKIN_NETWORK, _RANGE, _DENY and _DNS (comma-separated)."""
    try:
        chosen = Mode(mode.strip() or "internet")
    except ValueError:
        raise PolicyError(f"LAMBKIN_NETWORK: {mode!r} is neither 'internet' nor 'none'") from None
    network = _network("LAMBKIN_NETWORK_RANGE", range_) if range_.strip() else DEFAULT_RANGE
    if network.prefixlen > 30:
        raise PolicyError(f"LAMBKIN_NETWORK_RANGE: {network} holds fewer than two sandboxes")
    if not (network.is_private or network.subnet_of(_SHARED)):
        raise PolicyError(f"LAMBKIN_NETWORK_RANGE: {network} is neither private nor shared address space")
    deny = tuple(_network("LAMBKIN_NETWORK_DENY", part) for part in denied.split(",") if part.strip())
    try:
        upstreams = tuple(ipaddress.IPv4Address(part.strip()) for part in dns.split(",") if part.strip())
    except ValueError as exc:
        raise PolicyError(f"LAMBKIN_NETWORK_DNS: {exc}") from None
    return NetworkPolicy(chosen, network, deny, upstreams)


def host_resolvers(path: Path = RESOLV_CONF) -> tuple[IPv4Address, ...]:
    """The IPv4 nameservers of the host's resolv.conf (127.0.0.53 included: lambkin asks from the host)."""
    found: list[IPv4Address] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ()
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(IPv4Address(fields[1]))
            except ValueError:
                continue  # IPv6 nameservers: the forwarder speaks IPv4 upstream
    return tuple(found)
