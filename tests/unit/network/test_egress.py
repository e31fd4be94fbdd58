"""A VPC sandbox's egress as nft commands: a chain per set of rules, an element per link; nft accepts them."""

from __future__ import annotations

import json
import shutil
import subprocess
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lambkin.network import egress, rules
from lambkin.network.policy import parse
from lambkin.network.vpc import ALL, EgressRule

_WEB = EgressRule("tcp", 443, 443, (IPv4Network("198.51.100.0/24"),))
_HIGH = EgressRule("udp", 1024, 65535, (IPv4Network("203.0.113.0/24"), IPv4Network("192.0.2.0/24")))
_PING = EgressRule("icmp", 8, -1, (IPv4Network("198.51.100.7/32"),))
_EVERYTHING = EgressRule(ALL, -1, -1, (IPv4Network("0.0.0.0/0"),))


def _rule_exprs(commands: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [c["add"]["rule"]["expr"] for c in commands if "rule" in c.get("add", {})]


def test_each_rule_accepts_its_protocol_ports_and_destinations_and_the_rest_is_dropped() -> None:
    commands = egress.allow("inet", "lambkin_x", 41, [_WEB, _HIGH])
    first, second, last = _rule_exprs(commands)
    text = json.dumps(first)
    assert '"right": "tcp"' in text and '"right": 443' in text and '"addr": "198.51.100.0", "len": 24' in text
    assert {"range": [1024, 65535]} in [e["match"]["right"] for e in second if "match" in e]
    assert last == [{"drop": None}]


def test_all_protocols_match_the_destination_only_and_icmp_its_type() -> None:
    everything, ping, _ = _rule_exprs(egress.allow("inet", "lambkin_x", 41, [_EVERYTHING, _PING]))
    assert len(everything) == 2  # daddr, accept
    assert '"field": "type"}}, "right": 8' in json.dumps(ping)
    assert '"code"' not in json.dumps(ping)


def test_the_link_is_keyed_by_its_index_and_released_by_it() -> None:
    commands = egress.allow("inet", "lambkin_x", 41, [_WEB])
    element = commands[-1]["add"]["element"]
    assert element["elem"] == [[41, {"jump": {"target": egress.chain_name([_WEB])}}]]
    assert egress.release("inet", "lambkin_x", 41) == [
        {"delete": {"element": {"family": "inet", "table": "lambkin_x", "name": "egress", "elem": [41]}}}
    ]


def test_the_same_rules_share_a_chain_and_other_rules_do_not() -> None:
    assert egress.chain_name([_WEB, _HIGH]) == egress.chain_name([_HIGH, _WEB])
    assert egress.chain_name([_WEB]) != egress.chain_name([_WEB, _HIGH])


def test_the_lookup_comes_after_every_always_denied_range() -> None:
    table = rules.ruleset("abc123", parse("", "", "", ""), Path("/srv/lambkin-data"))
    forward = [
        c["add"]["rule"]["expr"] for c in table if c.get("add", {}).get("rule", {}).get("chain") == "forward"
    ]
    blocked = next(i for i, expr in enumerate(forward) if '"daddr"' in json.dumps(expr))
    lookup = next(i for i, expr in enumerate(forward) if any("vmap" in e for e in expr))
    assert blocked < lookup == len(forward) - 1


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_nft_accepts_a_sandboxs_egress_in_the_table() -> None:
    table = rules.ruleset("abc123", parse("", "", "", ""), Path("/srv/lambkin-data"))
    commands = [*table, *egress.allow("inet", "lambkin_abc123", 41, [_WEB, _HIGH, _PING, _EVERYTHING])]
    done = subprocess.run(
        ["nft", "-c", "-j", "-f", "-"],
        input=json.dumps({"nftables": commands}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
