"""The network settings as a policy: defaults, parsing, refusals that name the setting, slots' addresses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lambkin.network.policy import DEFAULT_RANGE, Mode, PolicyError, host_resolvers, parse


def test_defaults_are_internet_in_the_shared_address_space() -> None:
    policy = parse("", "", "", "")
    assert policy.mode is Mode.INTERNET
    assert policy.range == DEFAULT_RANGE == IPv4Network("100.127.0.0/16")
    assert policy.denied == ()
    assert policy.dns == ()


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
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    mode: str, range_: str, deny: str, dns: str, named: str
) -> None:
    with pytest.raises(PolicyError, match=named):
        parse(mode, range_, deny, dns)


def test_slots_are_point_to_point_pairs_that_wrap_around() -> None:
    policy = parse("", "10.200.0.0/29", "", "")
    assert policy.slots == 4
    first, second, wrapped = policy.slot(0), policy.slot(1), policy.slot(5)
    assert (first.host, first.sandbox) == (IPv4Address("10.200.0.0"), IPv4Address("10.200.0.1"))
    assert (second.host, second.sandbox) == (IPv4Address("10.200.0.2"), IPv4Address("10.200.0.3"))
    assert wrapped == second
    assert second.host_link == "lkn1"


def test_blocked_covers_link_local_loopback_the_range_and_the_denied() -> None:
    policy = parse("", "", "192.168.1.0/24", "")
    assert IPv4Network("169.254.0.0/16") in policy.blocked
    assert IPv4Network("127.0.0.0/8") in policy.blocked
    assert DEFAULT_RANGE in policy.blocked
    assert IPv4Network("192.168.1.0/24") in policy.blocked


def test_host_resolvers_are_the_ipv4_nameservers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nnameserver 127.0.0.53\nnameserver fd00::1\nsearch example\nnameserver 10.0.0.2\n"
    )
    assert host_resolvers(conf) == (IPv4Address("127.0.0.53"), IPv4Address("10.0.0.2"))
    assert host_resolvers(tmp_path / "missing") == ()
