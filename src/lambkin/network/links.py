"""A sandbox's link to the host: a veth pair made with netlink (pyroute2) while building its namespace.

The host end is named by its slot (`lkn<index>`), so creating it claims the slot host-wide: another
lambkin instance sharing the range gets EEXIST and moves on. Its alias names the instance, so a restart
finds the links an earlier run left. A link lives as long as its sandbox's namespace: the kernel removes
both ends when the namespace goes.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lambkin.network.policy import NetworkPolicy, Slot

SANDBOX_LINK = "eth0"
_CLAIM_ATTEMPTS = 64


class LinkError(OSError):
    """No link could be made for a sandbox."""


def attach(
    policy: NetworkPolicy, inside: IPRoute, host: IPRoute, host_ns: int, alias: str, start: int
) -> Slot:
    """Blocking. Gives the namespace `inside` works in an interface, its address and a default route, and
    the host end (in `host`'s namespace, whose descriptor is `host_ns`) its address and `alias`.

    Tries the slots from `start` on; the calling thread must be inside the new namespace (for its sysctl).
    """
    with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as sysctl:
        sysctl.write("1")  # IPv4 only: no link-local IPv6 address towards the host end
    slot = _claim(policy, inside, host_ns, start)
    try:
        (index,) = inside.link_lookup(ifname=SANDBOX_LINK)
        inside.addr("add", index=index, address=str(slot.sandbox), prefixlen=31)
        inside.link("set", index=index, state="up")
        inside.route("add", dst="0.0.0.0/0", gateway=str(slot.host))
        (peer,) = host.link_lookup(ifname=slot.host_link)
        host.link("set", index=peer, ifalias=alias)
        host.addr("add", index=peer, address=str(slot.host), prefixlen=31)
        host.link("set", index=peer, state="up")
    except NetlinkError as exc:
        raise LinkError(exc.code, f"configuring {slot.host_link} failed: {exc}") from exc
    return slot


def _claim(policy: NetworkPolicy, inside: IPRoute, host_ns: int, start: int) -> Slot:
    for index in range(start, start + _CLAIM_ATTEMPTS):
        slot = policy.slot(index)
        try:
            inside.link(
                "add",
                ifname=SANDBOX_LINK,
                kind="veth",
                peer={"ifname": slot.host_link, "net_ns_fd": host_ns},
            )
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise LinkError(exc.code, f"creating {slot.host_link} failed: {exc}") from exc
            continue
        return slot
    raise LinkError(errno.EADDRINUSE, f"no free slot in {policy.range} after {_CLAIM_ATTEMPTS} attempts")


def owned(alias: str) -> Iterator[str]:
    """Blocking. The names of the host's links whose alias is `alias`."""
    with IPRoute() as host:
        for link in host.get_links():
            if link.get_attr("IFLA_IFALIAS") == alias:
                yield link.get_attr("IFLA_IFNAME")


def remove(names: list[str]) -> None:
    """Blocking. Deletes these host links (each takes its peer along); quiet about those already gone."""
    with IPRoute() as host:
        for name in names:
            try:
                host.link("del", ifname=name)
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:
                    raise
