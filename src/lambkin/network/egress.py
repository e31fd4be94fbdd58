"""A VPC function's sandbox egress as nftables commands: its security groups' rules, keyed by its link.

lambkin's table holds a verdict map, `egress`, from a host link's interface index to a chain of rules; the
forward chain looks a sandbox's packets up in it after every always-denied range has been dropped, so a
rule can only narrow what a sandbox reaches, never widen it. A sandbox outside a VPC has no element and
keeps the default egress. A chain per distinct set of rules (`vpc_<digest>`) accepts what one of them
allows and drops the rest. Interface indexes are not reused while the host runs, so an element left behind
never applies to another sandbox; the whole map goes with the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from lambkin.network.vpc import ALL, EgressRule

MAP = "egress"
_CHAIN_PREFIX = "vpc_"


def declarations(family: str, table: str) -> list[dict[str, Any]]:
    """The table's part: the map, declared before the forward chain's rule that consults it."""
    return [
        {
            "add": {
                "map": {
                    "family": family,
                    "table": table,
                    "name": MAP,
                    "type": "iface_index",
                    "map": "verdict",
                }
            }
        }
    ]


def lookup(links: dict[str, Any]) -> list[dict[str, Any]]:
    """The forward chain's last expressions for packets from a sandbox link (`links`, its match)."""
    return [links, {"vmap": {"key": {"meta": {"key": "iif"}}, "data": f"@{MAP}"}}]


def chain_name(rules: Sequence[EgressRule]) -> str:
    """One chain per distinct set of rules, shared by every sandbox with that set."""
    digest = hashlib.sha256(repr(sorted(set(rules), key=repr)).encode()).hexdigest()[:16]
    return f"{_CHAIN_PREFIX}{digest}"


def allow(family: str, table: str, link_index: int, rules: Sequence[EgressRule]) -> list[dict[str, Any]]:
    """The commands that send the link's packets through `rules` (its chain written anew, atomically)."""
    name = chain_name(rules)
    chain = {"family": family, "table": table, "name": name}
    commands: list[dict[str, Any]] = [{"add": {"chain": chain}}, {"flush": {"chain": chain}}]
    for rule in rules:
        if rule.networks:
            body = {
                "family": family,
                "table": table,
                "chain": name,
                "expr": [*_matches(rule), {"accept": None}],
            }
            commands.append({"add": {"rule": body}})
    commands.append(
        {"add": {"rule": {"family": family, "table": table, "chain": name, "expr": [{"drop": None}]}}}
    )
    element = [[link_index, {"jump": {"target": name}}]]
    commands.append({"add": {"element": {"family": family, "table": table, "name": MAP, "elem": element}}})
    return commands


def release(family: str, table: str, link_index: int) -> list[dict[str, Any]]:
    """The commands that forget the link's entry (the sandbox is going)."""
    return [{"delete": {"element": {"family": family, "table": table, "name": MAP, "elem": [link_index]}}}]


def _matches(rule: EgressRule) -> list[dict[str, Any]]:
    destinations = {
        "set": [{"prefix": {"addr": str(net.network_address), "len": net.prefixlen}} for net in rule.networks]
    }
    found: list[dict[str, Any]] = [_equal({"payload": {"protocol": "ip", "field": "daddr"}}, destinations)]
    if rule.protocol == ALL:
        return found
    found.insert(0, _equal({"meta": {"key": "l4proto"}}, rule.protocol))
    if rule.protocol == "icmp":
        for field, value in (("type", rule.from_port), ("code", rule.to_port)):
            if value != -1:
                found.append(_equal({"payload": {"protocol": "icmp", "field": field}}, value))
        return found
    ports: Any = (
        rule.from_port if rule.from_port == rule.to_port else {"range": [rule.from_port, rule.to_port]}
    )
    found.append(_equal({"payload": {"protocol": rule.protocol, "field": "dport"}}, ports))
    return found


def _equal(left: dict[str, Any], right: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": left, "right": right}}
