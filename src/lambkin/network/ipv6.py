"""IPv6 for sandboxes where the host has it: deciding whether it does, routing for it, and each link's addresses.

The host has IPv6 for lambkin when its kernel has IPv6, IPv6 is not disabled (`all` nor `default`
disable_ipv6, the latter because the host ends of new links take it), it holds a global or unique local
address of its own (not one of lambkin's links'), and forwarding is on or can be turned on. Otherwise the
sandboxes stay IPv4-only, as before.
"""

from __future__ import annotations

import socket
from ipaddress import IPv6Address, IPv6Network, ip_address
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lambkin.network.policy import LINK_PREFIX, LINK_PREFIX6, Slot, Slot6

CONF = Path("/proc/sys/net/ipv6/conf")
_SANDBOX_LINK = "eth0"
_IFA_F_NODAD = 0x02  # the addresses are unique by construction: no second-long duplicate detection
_SCOPE_UNIVERSE = 0
_ADDR_GEN_MODE_NONE = "1"


class Ipv6LinkError(OSError):
    """A link's IPv6 addresses or route could not be set."""


def missing(conf: Path = CONF) -> str | None:
    """Why this kernel cannot give sandboxes IPv6 (disabled, or not there), or None."""
    if not conf.is_dir():
        return "the kernel has no IPv6 (booted with ipv6.disable=1, or built without it)"
    for scope in ("all", "default"):
        try:
            disabled = (conf / scope / "disable_ipv6").read_text().strip() == "1"
        except OSError as exc:
            return f"net.ipv6.conf.{scope}.disable_ipv6 cannot be read ({exc.strerror or exc})"
        if disabled:
            return f"IPv6 is disabled (net.ipv6.conf.{scope}.disable_ipv6 = 1)"
    return None


def host_addresses(own: IPv6Network) -> list[IPv6Address]:
    """Blocking. The host's global and unique local IPv6 addresses, but for those of lambkin's links."""
    found: list[IPv6Address] = []
    with IPRoute() as host:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") or "" for link in host.get_links()}
        for entry in host.get_addr(family=socket.AF_INET6):
            address = ip_address(entry.get_attr("IFA_ADDRESS"))
            if (
                entry["scope"] == _SCOPE_UNIVERSE
                and isinstance(address, IPv6Address)
                and address not in own
                and not names.get(entry["index"], "").startswith(LINK_PREFIX)
            ):
                found.append(address)
    return found


def keep_router_advertisements(conf: Path = CONF) -> None:
    """Before forwarding is turned on: every interface (and `default`, for later ones) that accepts router
    advertisements only while not forwarding (accept_ra = 1) accepts them whatever the forwarding (2), so
    the host keeps the routes it learns from them (its default route, often)."""
    for interface in sorted(conf.iterdir()):
        accept_ra = interface / "accept_ra"
        if interface.name != "all" and accept_ra.exists() and accept_ra.read_text().strip() == "1":
            accept_ra.write_text("2")


def enable(own: IPv6Network, conf: Path = CONF) -> str | None:
    """Blocking. Readies the host to route the sandboxes' IPv6 (forwarding on, router advertisements
    accepted where they were); returns why it cannot, and then changes nothing."""
    reason = missing(conf)
    if reason is not None:
        return reason
    if not host_addresses(own):
        return "the host has no global or unique local IPv6 address"
    forwarding = conf / "all" / "forwarding"
    try:
        if forwarding.read_text().strip() != "1":
            keep_router_advertisements(conf)
            forwarding.write_text("1")
    except OSError as exc:
        return f"IPv6 forwarding cannot be turned on ({exc.strerror or exc})"
    return None


def attach(slot: Slot, addresses: Slot6, inside: IPRoute, host: IPRoute) -> None:
    """Blocking; the calling thread must be inside the sandbox's namespace (for its sysctls). Gives the
    link `links.attach` made for `slot` its IPv6 addresses, a /64 of its own, and the sandbox a default
    route through the host's end. The sandbox's end gets no link-local address and takes no router
    advertisements: its address, its route and finding its neighbour are all it needs."""
    sysctl = CONF / _SANDBOX_LINK
    (sysctl / "addr_gen_mode").write_text(_ADDR_GEN_MODE_NONE)
    (sysctl / "accept_ra").write_text("0")
    (sysctl / "disable_ipv6").write_text("0")  # links.attach turned IPv6 off before making the link
    try:
        (index,) = inside.link_lookup(ifname=_SANDBOX_LINK)
        inside.addr(
            "add", index=index, address=str(addresses.sandbox), prefixlen=LINK_PREFIX6, flags=_IFA_F_NODAD
        )
        inside.route("add", dst="::/0", gateway=str(addresses.host))
        (peer,) = host.link_lookup(ifname=slot.host_link)
        host.addr("add", index=peer, address=str(addresses.host), prefixlen=LINK_PREFIX6, flags=_IFA_F_NODAD)
    except NetlinkError as exc:
        raise Ipv6LinkError(exc.code, f"configuring IPv6 on {slot.host_link} failed: {exc}") from exc
