"""The network settings as a policy: defaults, parsing, refusals that name the setting, slots' addresses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest

from lambkin.network.policy import DEFAULT_RANGE, DEFAULT_RANGE6, Mode, PolicyError, host_resolvers, parse


def test_defaults_are_internet_in_the_shared_address_space() -> None:
    policy = parse("", "", "", "")
    assert policy.mode is Mode.INTERNET
    assert policy.range == DEFAULT_RANGE == IPv4Network("100.127.0.0/16")
    assert policy.denied == ()
    assert policy.dns == ()
    assert policy.range6 == DEFAULT_RANGE6 == IPv6Network("fd6c:616d:626b::/48")
    assert policy.denied6 == ()


def test_settings_are_parsed() -> None:
    policy = parse("none", "10.200.0.0/24", "192.168.1.0/24, 10.0.0.0/8", "198.51.100.2,198.51.100.3")
    assert policy.mode is Mode.NONE
    assert policy.range == IPv4Network("10.200.0.0/24")
    assert policy.denied == (IPv4Network("192.168.1.0/24"), IPv4Network("10.0.0.0/8"))
    assert policy.dns == (IPv4Address("198.51.100.2"), IPv4Address("198.51.100.3"))


@pytest.mark.parametrize(
    ("mode", "range_", "deny", "dns", "named"),
    [
        ("offline", "", "", "", "LAMBKIN_NETWORK:"),
        ("", "8.8.8.0/24", "", "", "LAMBKIN_NETWORK_RANGE:"),
        ("", "10.0.0.0/31", "", "", "LAMBKIN_NETWORK_RANGE:"),
        ("", "not-a-range", "", "", "LAMBKIN_NETWORK_RANGE:"),
        ("", "", "192.168.1.0/33", "", "LAMBKIN_NETWORK_DENY:"),
        ("", "", "", "resolver.example", "LAMBKIN_NETWORK_DNS:"),
        ("", "", "fd00::/129", "", "LAMBKIN_NETWORK_DENY:"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    mode: str, range_: str, deny: str, dns: str, named: str
) -> None:
    with pytest.raises(PolicyError, match=named):
        parse(mode, range_, deny, dns)


def test_ipv6_settings_are_parsed() -> None:
    policy = parse(
        "", "", "192.168.1.0/24, 2001:db8:1::/48", "fd00::53, 198.51.100.2", range6="fd12:3456::/32"
    )
    assert policy.range6 == IPv6Network("fd12:3456::/32")
    assert policy.denied == (IPv4Network("192.168.1.0/24"),)
    assert policy.denied6 == (IPv6Network("2001:db8:1::/48"),)
    assert policy.dns == (IPv6Address("fd00::53"), IPv4Address("198.51.100.2"))
    assert parse("", "", "", "", range6="off").range6 is None


@pytest.mark.parametrize(
    ("range_", "range6", "refusal"),
    [
        ("", "2001:db8::/48", "not unique local"),
        ("", "fd00::/56", "holds 256 /64 links, fewer than the 32768 sandboxes"),
        ("", "fd00::/96", "holds 0 /64 links"),
        ("", "fd00::zz/48", "not an IPv6 range"),
        ("10.0.0.0/14", "", "fewer than the 131072 sandboxes"),
    ],
)
def test_bad_ipv6_ranges_are_refused_naming_the_setting(range_: str, range6: str, refusal: str) -> None:
    with pytest.raises(PolicyError, match=f"LAMBKIN_NETWORK_RANGE6: .*{refusal}"):
        parse("", range_, "", "", range6=range6)


def test_a_smaller_ipv6_range_is_enough_for_a_smaller_ipv4_one() -> None:
    assert parse("", "10.200.0.0/23", "", "", range6="fd00:1:2:3300::/56").range6 == IPv6Network(
        "fd00:1:2:3300::/56"
    )


def test_slots_are_point_to_point_pairs_that_wrap_around() -> None:
    policy = parse("", "10.200.0.0/29", "", "")
    assert policy.slots == 4
    first, second, wrapped = policy.slot(0), policy.slot(1), policy.slot(5)
    assert (first.host, first.sandbox) == (IPv4Address("10.200.0.0"), IPv4Address("10.200.0.1"))
    assert (second.host, second.sandbox) == (IPv4Address("10.200.0.2"), IPv4Address("10.200.0.3"))
    assert wrapped == second
    assert second.host_link == "lkn1"


def test_each_slot_has_an_ipv6_64_of_its_own_that_wraps_with_it() -> None:
    policy = parse("", "10.200.0.0/29", "", "")
    first, second = policy.slot6(0), policy.slot6(1)
    assert first is not None and second is not None
    assert (first.host, first.sandbox) == (IPv6Address("fd6c:616d:626b::1"), IPv6Address("fd6c:616d:626b::2"))
    assert (second.host, second.sandbox) == (
        IPv6Address("fd6c:616d:626b:1::1"),
        IPv6Address("fd6c:616d:626b:1::2"),
    )
    assert policy.slot6(5) == second
    assert parse("", "", "", "", range6="off").slot6(0) is None


def test_blocked_covers_link_local_loopback_the_range_and_the_denied() -> None:
    policy = parse("", "", "192.168.1.0/24", "")
    assert IPv4Network("169.254.0.0/16") in policy.blocked
    assert IPv4Network("127.0.0.0/8") in policy.blocked
    assert DEFAULT_RANGE in policy.blocked
    assert IPv4Network("192.168.1.0/24") in policy.blocked


def test_blocked6_covers_loopback_link_local_multicast_the_range_and_the_denied() -> None:
    blocked = parse("", "", "2001:db8:1::/48", "").blocked6
    for address in ("::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "fd6c:616d:626b:7::2", "2001:db8:1::5"):
        assert any(IPv6Address(address) in network for network in blocked), address
    assert not any(IPv6Address("2001:db8:2::5") in network for network in blocked)
    assert parse("", "", "", "", range6="off").blocked6 == parse("", "", "", "").blocked6[:-1]


def test_host_resolvers_are_the_ipv4_and_ipv6_nameservers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nnameserver 127.0.0.53\nnameserver fd00::1\nsearch example\nnameserver 10.0.0.2\n"
        "nameserver fe80::1%eth0\nnameserver bogus\n"
    )
    assert host_resolvers(conf) == (
        IPv4Address("127.0.0.53"),
        IPv6Address("fd00::1"),
        IPv4Address("10.0.0.2"),
        IPv6Address("fe80::1%eth0"),
    )
    assert host_resolvers(tmp_path / "missing") == ()
