"""lambkin's own nftables table (one per instance), written and removed whole through nft's JSON interface.

The table holds every rule lambkin needs and nothing else: other tables, whoever wrote them, are never read
or touched. Each instance replaces its own table atomically (add, delete, add in one transaction), so a
restart after `kill -9` finds and replaces what the old run left. The comment of its first rule names the data
directory, so an instance whose directory is gone can be recognised as an orphan and removed.
"""

from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from lambkin.network import egress
from lambkin.network.policy import LINK_PREFIX, NetworkPolicy

FAMILY = "inet"
TABLE_PREFIX = "lambkin_"
_SANDBOX_LINKS = f"{LINK_PREFIX}*"
_NFT = ("nft", "-j")


class RulesError(OSError):
    """nft refused a change or could not be run."""


def table_name(instance: str) -> str:
    return f"{TABLE_PREFIX}{instance}"


def _iif(op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": {"meta": {"key": "iifname"}}, "right": _SANDBOX_LINKS}}


def _oif(op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": {"meta": {"key": "oifname"}}, "right": _SANDBOX_LINKS}}


def _prefixes(networks: tuple[IPv4Network, ...] | tuple[IPv6Network, ...]) -> dict[str, Any]:
    return {"set": [{"prefix": {"addr": str(net.network_address), "len": net.prefixlen}} for net in networks]}


def ruleset(instance: str, policy: NetworkPolicy, data_dir: Path) -> list[dict[str, Any]]:
    """The commands that replace this instance's table with its current rules."""
    name = table_name(instance)
    table = {"family": FAMILY, "name": name}

    def chain(chain_name: str, kind: str, hook: str, prio: int) -> dict[str, Any]:
        return {
            "add": {
                "chain": {
                    "family": FAMILY,
                    "table": name,
                    "name": chain_name,
                    "type": kind,
                    "hook": hook,
                    "prio": prio,
                    "policy": "accept",
                }
            }
        }

    def rule(chain_name: str, *expr: dict[str, Any], comment: str | None = None) -> dict[str, Any]:
        body = {"family": FAMILY, "table": name, "chain": chain_name, "expr": list(expr)}
        return {"add": {"rule": body if comment is None else {**body, "comment": comment}}}

    drop = {"drop": None}
    return [
        {"add": {"table": table}},
        {"delete": {"table": table}},
        {"add": {"table": table}},
        # Nothing from a sandbox reaches the host itself: none of its addresses, on any interface. The rule's
        # comment names the data directory (nft 1.0.6 keeps no table comments).
        chain("input", "filter", "input", -10),
        rule("input", _iif(), *_neighbour_discovery(), {"accept": None}, comment=str(data_dir)),
        rule("input", _iif(), drop),
        # Forwarded: never between sandboxes, never inbound unless a reply, never from an address that is not
        # the sandbox's own, never to a blocked range.
        chain("forward", "filter", "forward", -10),
        rule("forward", _iif(), _oif(), drop),
        rule(
            "forward",
            _oif(),
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
            {"accept": None},
        ),
        rule("forward", _oif(), drop),
        rule("forward", _iif(), _not_from_its_link(), drop),
        rule("forward", _iif(), _ipv6_destination_in(policy.blocked6), drop),
        rule(
            "forward",
            _iif(),
            {
                "match": {
                    "op": "==",
                    "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                    "right": _prefixes(policy.blocked),
                }
            },
            drop,
        ),
        # Last, a VPC function's sandbox: only what its security groups allow (network/egress.py).
        *egress.declarations(FAMILY, name),
        rule("forward", *egress.lookup(_iif())),
        # Out through the host's outward interfaces, under the host's address.
        chain("postrouting", "nat", "postrouting", 100),
        rule("postrouting", _iif(), _oif("!="), {"masquerade": None}),
    ]


def _neighbour_discovery() -> list[dict[str, Any]]:
    """Neighbour solicitations and advertisements sent on the link itself (hop limit 255): what an IPv6
    sandbox needs to find its link's other end, the one thing from it the host takes in. ARP, IPv4's, is
    not in the inet family's hooks at all."""
    return [
        {
            "match": {
                "op": "==",
                "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
                "right": {"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]},
            }
        },
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "hoplimit"}}, "right": 255}},
    ]


def _not_from_its_link() -> dict[str, Any]:
    """A source address the host would not route back out of the interface the packet came in by: another
    sandbox's address (or any other) forged as the source, whose replies would reach that sandbox."""
    return {
        "match": {
            "op": "==",
            "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}},
            "right": False,
        }
    }


def _ipv6_destination_in(networks: tuple[IPv6Network, ...]) -> dict[str, Any]:
    """IPv6 destinations in `networks` (rules in the inet family match IPv6 as IPv4; a sandbox without
    IPv6 sends none)."""
    return {
        "match": {
            "op": "==",
            "left": {"payload": {"protocol": "ip6", "field": "daddr"}},
            "right": _prefixes(networks),
        }
    }


def _run(commands: list[dict[str, Any]]) -> None:
    try:
        done = subprocess.run(
            [*_NFT, "-f", "-"],
            input=json.dumps({"nftables": commands}),
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise RulesError(
            "nft is not installed (Debian's nftables package; see scripts/setup-system.sh)"
        ) from None
    if done.returncode != 0:
        raise RulesError(f"nft refused lambkin's rules: {done.stderr.strip()}")


def install(instance: str, policy: NetworkPolicy, data_dir: Path) -> None:
    """Blocking. Replaces this instance's table (left by an earlier run, or none) with the current rules."""
    _run(ruleset(instance, policy, data_dir))


def apply(commands: list[dict[str, Any]]) -> None:
    """Blocking. Runs further commands on the tables (one transaction), e.g. `egress.allow`'s."""
    _run(commands)


def remove(instance: str) -> None:
    """Blocking. Removes this instance's table, if there is one."""
    table = {"family": FAMILY, "name": table_name(instance)}
    _run([{"add": {"table": table}}, {"delete": {"table": table}}])


def _list(*what: str) -> list[dict[str, Any]]:
    try:
        done = subprocess.run([*_NFT, "list", *what], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return []
    if done.returncode != 0:
        return []
    items: list[dict[str, Any]] = json.loads(done.stdout).get("nftables", [])
    return items


def tables() -> dict[str, str]:
    """Blocking. Every lambkin table on the host, by instance: the data directory it was written for."""
    found: dict[str, str] = {}
    for item in _list("tables"):
        table = item.get("table", {})
        name = table.get("name", "")
        if table.get("family") != FAMILY or not name.startswith(TABLE_PREFIX):
            continue
        comments = [
            entry["rule"].get("comment", "")
            for entry in _list("chain", FAMILY, name, "input")
            if "rule" in entry
        ]
        found[name[len(TABLE_PREFIX) :]] = comments[0] if comments else ""
    return found
