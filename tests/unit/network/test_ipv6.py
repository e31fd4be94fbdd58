"""Whether the host can give sandboxes IPv6, read from its sysctls; router advertisements kept when it
starts forwarding. The sysctls here are files in a temporary directory."""

from __future__ import annotations

from pathlib import Path

from lambkin.network import ipv6


def _conf(tmp_path: Path, **interfaces: dict[str, str]) -> Path:
    conf = tmp_path / "conf"
    for name, values in {"all": {}, "default": {}, **interfaces}.items():
        (conf / name).mkdir(parents=True)
        for key, value in {"disable_ipv6": "0", "accept_ra": "1", "forwarding": "0", **values}.items():
            (conf / name / key).write_text(f"{value}\n")
    return conf


def test_a_kernel_with_ipv6_enabled_is_not_missing_it(tmp_path: Path) -> None:
    assert ipv6.missing(_conf(tmp_path, eth0={})) is None


def test_ipv6_disabled_or_absent_is_missing_with_the_reason(tmp_path: Path) -> None:
    assert ipv6.missing(tmp_path / "absent") == (
        "the kernel has no IPv6 (booted with ipv6.disable=1, or built without it)"
    )
    assert ipv6.missing(_conf(tmp_path / "a", all={"disable_ipv6": "1"})) == (
        "IPv6 is disabled (net.ipv6.conf.all.disable_ipv6 = 1)"
    )
    # New links (the host's ends) take `default`'s value.
    assert ipv6.missing(_conf(tmp_path / "b", default={"disable_ipv6": "1"})) == (
        "IPv6 is disabled (net.ipv6.conf.default.disable_ipv6 = 1)"
    )


def test_router_advertisements_are_kept_where_they_were_accepted(tmp_path: Path) -> None:
    conf = _conf(tmp_path, eth0={"accept_ra": "1"}, eth1={"accept_ra": "0"}, wlan0={"accept_ra": "2"})
    ipv6.keep_router_advertisements(conf)
    accepted = {name: (conf / name / "accept_ra").read_text().strip() for name in ("eth0", "eth1", "wlan0")}
    assert accepted == {"eth0": "2", "eth1": "0", "wlan0": "2"}
    assert (conf / "default" / "accept_ra").read_text().strip() == "2"  # for interfaces added later
    assert (conf / "all" / "accept_ra").read_text().strip() == "1"
