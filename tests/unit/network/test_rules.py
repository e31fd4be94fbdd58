"""lambkin's nftables table as JSON commands: replaced whole, the isolation rules, NAT; nft accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lambkin.network import rules
from lambkin.network.policy import parse


def _commands() -> list[dict[str, Any]]:
    return rules.ruleset(
        "abc123", parse("", "", "192.168.1.0/24,2001:db8:7::/48", ""), Path("/srv/lambkin-data")
    )


def _rules(chain: str) -> list[list[dict[str, Any]]]:
    return [
        command["add"]["rule"]["expr"]
        for command in _commands()
        if command.get("add", {}).get("rule", {}).get("chain") == chain
    ]


def test_the_table_is_replaced_in_one_transaction() -> None:
    table = {"family": "inet", "name": "lambkin_abc123"}
    assert _commands()[:3] == [
        {"add": {"table": table}},
        {"delete": {"table": table}},
        {"add": {"table": table}},
    ]


def test_every_rule_is_in_lambkins_own_table_and_the_first_names_the_data_directory() -> None:
    added = [command["add"]["rule"] for command in _commands() if "rule" in command.get("add", {})]
    assert {rule["table"] for rule in added} == {"lambkin_abc123"}
    assert added[0]["comment"] == "/srv/lambkin-data"


def test_the_denied_ranges_are_dropped_when_forwarded() -> None:
    text = json.dumps(_commands())
    assert '"addr": "192.168.1.0", "len": 24' in text
    assert '"addr": "169.254.0.0", "len": 16' in text
    assert '{"masquerade": null}' in text


def test_ipv6_destinations_blocked_when_forwarded_are_link_local_loopback_multicast_the_range_and_the_denied() -> (
    None
):
    (ipv6,) = [rule for rule in _rules("forward") if '"ip6", "field": "daddr"' in json.dumps(rule)]
    text = json.dumps(ipv6)
    for prefix in ("::", 127), ("fe80::", 10), ("ff00::", 8), ("fd6c:616d:626b::", 48), ("2001:db8:7::", 48):
        assert json.dumps({"prefix": {"addr": prefix[0], "len": prefix[1]}}) in text, prefix
    assert ipv6[-1] == {"drop": None}
    assert not any('"nfproto"' in json.dumps(rule) for rule in _rules("forward"))


def test_the_host_takes_in_only_neighbour_discovery_from_a_sandbox() -> None:
    accept, drop = _rules("input")
    assert accept[-1] == {"accept": None}
    text = json.dumps(accept)
    assert '"nd-neighbor-solicit", "nd-neighbor-advert"' in text
    assert '"field": "hoplimit"}}, "right": 255' in text
    assert drop[-1] == {"drop": None} and len(drop) == 2


def test_a_forged_source_address_is_dropped() -> None:
    (forged,) = [rule for rule in _rules("forward") if '"fib"' in json.dumps(rule)]
    assert forged[1] == {
        "match": {"op": "==", "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, "right": False}
    }
    assert forged[-1] == {"drop": None}


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_nft_accepts_the_table() -> None:
    done = subprocess.run(
        ["nft", "-c", "-j", "-f", "-"],  # --check: parsed and validated, nothing applied
        input=json.dumps({"nftables": _commands()}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
