"""The network policy of one lambkin instance: its mode, address range, denied ranges and DNS upstreams."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
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

# IPv6, where the host has it (network/ipv6.py): one /64 per link out of a unique local /48 whose 40-bit
# global ID spells "lambk" (6c 61 6d 62 6b): no common setup numbers from it (fd00::/64 and the like are the
# usual picks), and a /48 holds a /64 for each of the default range's 32,768 links.
DEFAULT_RANGE6 = IPv6Network("fd6c:616d:626b::/48")
_UNIQUE_LOCAL = IPv6Network("fc00::/7")
LINK_PREFIX6 = 64
# What no sandbox reaches over IPv6: unspecified and loopback, IPv4-mapped, link-local (the host's end of
# the link among them), the old site-local, multicast.
ALWAYS_DENIED6 = tuple(
    IPv6Network(cidr) for cidr in ("::/127", "::ffff:0:0/96", "fe80::/10", "fec0::/10", "ff00::/8")
)


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
    dns: tuple[IPv4Address | IPv6Address, ...] = ()  # upstream resolvers; () reads the host's resolv.conf
    range6: IPv6Network | None = DEFAULT_RANGE6  # None: IPv4 only, whatever the host has
    denied6: tuple[IPv6Network, ...] = ()

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

    def slot6(self, index: int) -> Slot6 | None:
        """Slot `index`'s IPv6 addresses (its /64's ::1 for the host, ::2 for the sandbox), or None."""
        if self.range6 is None:
            return None
        base = self.range6.network_address + ((index % self.slots) << (128 - LINK_PREFIX6))
        return Slot6(base + 1, base + 2)

    @property
    def blocked6(self) -> tuple[IPv6Network, ...]:
        """Every IPv6 destination a sandbox's packets are dropped for when forwarded."""
        return (*ALWAYS_DENIED6, *((self.range6,) if self.range6 else ()), *self.denied6)


@dataclass(frozen=True)
class Slot6:
    """One sandbox's link's IPv6 addresses, in a /64 of its own."""

    host: IPv6Address
    sandbox: IPv6Address


def _network(name: str, text: str) -> IPv4Network:
    try:
        return IPv4Network(text.strip(), strict=False)
    except ValueError as exc:
        raise PolicyError(f"{name}: {text!r} is not an IPv4 range ({exc})") from None


def _range6(text: str, slots: int) -> IPv6Network | None:
    """LAMBKIN_NETWORK_RANGE6: "" is the default, "off" keeps sandboxes IPv4-only."""
    if not text.strip():
        chosen = DEFAULT_RANGE6
    elif text.strip().lower() == "off":
        return None
    else:
        try:
            chosen = IPv6Network(text.strip(), strict=False)
        except ValueError as exc:
            raise PolicyError(f"LAMBKIN_NETWORK_RANGE6: {text!r} is not an IPv6 range ({exc})") from None
    if not chosen.subnet_of(_UNIQUE_LOCAL):
        raise PolicyError(f"LAMBKIN_NETWORK_RANGE6: {chosen} is not unique local address space (fc00::/7)")
    links = 2 ** (LINK_PREFIX6 - chosen.prefixlen) if chosen.prefixlen <= LINK_PREFIX6 else 0
    if links < slots:
        raise PolicyError(
            f"LAMBKIN_NETWORK_RANGE6: {chosen} holds {links} /64 links, fewer than the {slots} sandboxes of "
            "LAMBKIN_NETWORK_RANGE"
        )
    return chosen


def parse(mode: str, range_: str, denied: str, dns: str, range6: str = "") -> NetworkPolicy:
    """The policy from the settings' texts: LAMBKIN_NETWORK, _RANGE, _DENY and _DNS (comma-separated), and
    _RANGE6. A denied range or a resolver may be IPv4 or IPv6."""
    try:
        chosen = Mode(mode.strip() or "internet")
    except ValueError:
        raise PolicyError(f"LAMBKIN_NETWORK: {mode!r} is neither 'internet' nor 'none'") from None
    network = _network("LAMBKIN_NETWORK_RANGE", range_) if range_.strip() else DEFAULT_RANGE
    if network.prefixlen > 30:
        raise PolicyError(f"LAMBKIN_NETWORK_RANGE: {network} holds fewer than two sandboxes")
    if not (network.is_private or network.subnet_of(_SHARED)):
        raise PolicyError(f"LAMBKIN_NETWORK_RANGE: {network} is neither private nor shared address space")
    deny = tuple(_denied(part) for part in denied.split(",") if part.strip())
    try:
        upstreams = tuple(ipaddress.ip_address(part.strip()) for part in dns.split(",") if part.strip())
    except ValueError as exc:
        raise PolicyError(f"LAMBKIN_NETWORK_DNS: {exc}") from None
    return NetworkPolicy(
        chosen,
        network,
        tuple(net for net in deny if isinstance(net, IPv4Network)),
        upstreams,
        _range6(range6, network.num_addresses // 2),
        tuple(net for net in deny if isinstance(net, IPv6Network)),
    )


def _denied(text: str) -> IPv4Network | IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise PolicyError(f"LAMBKIN_NETWORK_DENY: {text!r} is not an IPv4 or IPv6 range ({exc})") from None


def host_resolvers(path: Path = RESOLV_CONF) -> tuple[IPv4Address | IPv6Address, ...]:
    """The nameservers of the host's resolv.conf, IPv4 and IPv6 (127.0.0.53 and ::1 included, and a
    link-local one with its %zone: lambkin asks them from the host's namespace)."""
    found: list[IPv4Address | IPv6Address] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ()
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(ipaddress.ip_address(fields[1]))
            except ValueError:
                continue
    return tuple(found)
