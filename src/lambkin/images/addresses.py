"""Where a pull may connect: public addresses, and the registries the operator lists, every hop checked.

A caller names an image, so a caller would choose the hosts the server's pulls ask; left open, that lets
anyone with CreateFunction make lambkin request its own loopback, the cloud's metadata address or the
private network (a redirect is enough). `CheckedTransport` resolves each request's host once, refuses an
address that is not public unless `RegistryAllowList` lists the host (or its network), and connects to the
very address it checked, so a second DNS answer (rebinding) never reaches the socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
Classifier = Callable[[IPAddress], bool]

RESOLVE_TIMEOUT_S = 10.0  # as long as a connection may take to open

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 and 8215).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class AddressRefused(Exception):
    """A pull was about to connect to an address it may not reach."""


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a global unicast address, and so is any IPv4 address it carries.

    Not public: loopback, RFC 1918, link-local (169.254/16 with the metadata service, fe80::/10), CGNAT
    (100.64/10), unique-local (fc00::/7), multicast, unspecified, reserved and documentation ranges, and
    IPv6 forms of any of those (IPv4-mapped, 6to4, Teredo, NAT64).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        carried = [address.sixtofour, *(address.teredo or ())]
        carried += [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) for net in _NAT64 if address in net]
        if not all(is_public(inner) for inner in carried if inner is not None):
            return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class RegistryAllowList:
    """Registries a pull may reach at non-public addresses: `host` (any port), `host:port`, or a network.

    Names match the host a request names (the image reference's registry, or a redirect's host), as
    container engines' `registries.conf` and Docker's `insecure-registries` name them; a network
    (`10.0.0.0/8`, `fd00::/8`) matches the address a name resolves to, as Docker's CIDR entries do.
    """

    names: frozenset[tuple[str, int | None]] = frozenset()  # (host, port or None for any port)
    networks: tuple[IPNetwork, ...] = ()
    public: Classifier = is_public
    any_address: bool = False  # the operator's own `lambkin image pull`: no caller chose the host

    @classmethod
    def parse(cls, entries: Iterable[str]) -> RegistryAllowList:
        """From a setting's entries; raises ValueError naming an entry that is none of the three."""
        names: set[tuple[str, int | None]] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                if "/" in entry:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                else:
                    names.add(_host_port(entry))
            except ValueError:
                raise ValueError(
                    f"{raw!r} is not a registry (host or host:port) or a network (address/prefix)"
                ) from None
        return cls(frozenset(names), tuple(networks))

    def lists(self, host: str, port: int | None) -> bool:
        """Whether the operator named this registry: by its host alone, by host and port, or (an address
        as its host) by a network holding it."""
        host = host.strip("[]").lower()
        if (host, None) in self.names or (port is not None and (host, port) in self.names):
            return True
        literal = _literal(host)
        return literal is not None and self.holds(literal)

    def holds(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def allows(self, host: str, port: int, address: IPAddress) -> bool:
        """Whether a pull may connect to `address`, which `host` resolved to, on `port`."""
        return self.any_address or self.public(address) or self.lists(host, port) or self.holds(address)

    def __or__(self, other: RegistryAllowList) -> RegistryAllowList:
        return RegistryAllowList(
            self.names | other.names, self.networks + other.networks, self.public, self.any_address
        )


def _host_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` as (host, port); ValueError if it is none of them."""
    parts = urlsplit(f"//{entry}")
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username:
        raise ValueError(entry)
    return parts.hostname, parts.port


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to, in the order the system prefers them."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return list(dict.fromkeys(found))


@dataclass
class CheckedTransport(httpx.AsyncBaseTransport):
    """Sends each request to an address of its host that `allowed` accepts, named by that address.

    The request keeps its Host header and TLS server name (certificates are checked against the host
    name), only the connection goes to the checked address. Redirects are new requests: each is checked.
    """

    allowed: RegistryAllowList
    inner: httpx.AsyncBaseTransport
    resolver: Resolver = resolve
    _pinned: dict[tuple[str, int], IPAddress] = field(default_factory=dict, init=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.allowed.any_address:
            return await self.inner.handle_async_request(request)
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            address = await self._address(host, port, request)
        except AddressRefused as exc:
            raise AddressRefused(f"{request.method} {request.url}: {exc}") from None
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return await self.inner.handle_async_request(pinned)

    async def _address(self, host: str, port: int, request: httpx.Request) -> IPAddress:
        """One checked address per host and port for the whole pull (a name is resolved once). A name
        that does not resolve is a connection error, as it was before the check (the pull retries it)."""
        if (host, port) in self._pinned:
            return self._pinned[(host, port)]
        literal = _literal(host)
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                candidates = [literal] if literal is not None else await self.resolver(host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"resolving {host} took over {RESOLVE_TIMEOUT_S} s", request=request
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(f"{host} could not be resolved: {exc}", request=request) from exc
        for address in candidates:
            if self.allowed.allows(host, port, address):
                self._pinned[(host, port)] = address
                return address
        named = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        shown = " and ".join(f"{a} ({_kind(a)})" for a in candidates) or "no address"
        raise AddressRefused(f"{named} is at {shown}, not a public address")

    async def aclose(self) -> None:
        await self.inner.aclose()


def _kind(address: IPAddress) -> str:
    """What a non-public address is, in the words an operator would look for."""
    inner = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if inner is not None:
        return f"IPv4-mapped {_kind(inner)}"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address in ipaddress.IPv4Network("100.64.0.0/10"):
        return "shared address space (CGNAT)"
    if address.is_private:
        return "private"
    return "not public"
