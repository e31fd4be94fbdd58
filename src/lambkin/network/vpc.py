"""The operator's VPCs (LAMBKIN_VPC_CONFIG): subnets and security groups with egress rules, read from a file.

The file is JSON or TOML (by its suffix) in the shapes of EC2's DescribeSubnets and DescribeSecurityGroups:

    {"Vpcs": [{"VpcId": "vpc-0a1b", "CidrBlock": "10.0.0.0/16",
               "Subnets": [{"SubnetId": "subnet-0a1b", "CidrBlock": "10.0.1.0/24"}],
               "SecurityGroups": [{"GroupId": "sg-0a1b", "IpPermissionsEgress": [
                   {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                    "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}]}]}]}

A function's egress is the union of its security groups' rules (`Catalog.egress`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from lambkin.network.policy import PolicyError

SETTING = "LAMBKIN_VPC_CONFIG"
ALL = "-1"  # IpProtocol of a rule for every protocol and port
_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "-1": ALL}
_VPC_ID = re.compile(r"vpc-[0-9a-z]+")
_SUBNET_ID = re.compile(r"subnet-[0-9a-z]+")
_GROUP_ID = re.compile(r"sg-[0-9a-zA-Z]+")


class VpcConfigError(PolicyError):
    """The VPC configuration file cannot be used; the message names the setting and the fault."""


@dataclass(frozen=True)
class EgressRule:
    """One outbound permission: `protocol` ("tcp", "udp", "icmp" or ALL) to `networks`, ports
    `from_port`..`to_port` (for icmp: the type and code; -1 is any)."""

    protocol: str
    from_port: int
    to_port: int
    networks: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc_id: str
    cidr: IPv4Network


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    vpc_id: str
    egress: tuple[EgressRule, ...]


@dataclass(frozen=True)
class Catalog:
    """Every subnet and security group the operator defined, by id."""

    subnets: Mapping[str, Subnet]
    security_groups: Mapping[str, SecurityGroup]

    def egress(self, group_ids: Sequence[str]) -> tuple[EgressRule, ...]:
        """The union of these security groups' egress rules (groups not defined add nothing)."""
        found = (self.security_groups.get(group_id) for group_id in group_ids)
        return tuple(rule for group in found if group is not None for rule in group.egress)


EMPTY = Catalog({}, {})


def load(path: str) -> Catalog:
    """The catalog in the file at `path` ("" means none); a VpcConfigError names what is wrong with it."""
    if not path.strip():
        return EMPTY
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise VpcConfigError(f"{SETTING}: cannot read {path}: {exc.strerror}") from None
    try:
        data: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise VpcConfigError(f"{SETTING}: {path} is not valid {_format(file)}: {exc}") from None
    try:
        return parse(data)
    except VpcConfigError as exc:
        raise VpcConfigError(f"{SETTING}: {path}: {exc}") from None


def _format(file: Path) -> str:
    return "TOML" if file.suffix == ".toml" else "JSON"


def parse(data: Any) -> Catalog:
    """The catalog in a decoded file; VpcConfigError says where it is wrong."""
    subnets: dict[str, Subnet] = {}
    groups: dict[str, SecurityGroup] = {}
    vpc_ids: set[str] = set()
    for n, vpc in enumerate(_list(_object(data, "the file"), "Vpcs", "the file")):
        where = f"Vpcs[{n}]"
        vpc = _object(vpc, where)
        vpc_id = _id(vpc, "VpcId", _VPC_ID, where)
        if vpc_id in vpc_ids:
            raise VpcConfigError(f"{where}: VpcId {vpc_id} is defined twice")
        vpc_ids.add(vpc_id)
        block = _network(vpc["CidrBlock"], f"{where}.CidrBlock") if "CidrBlock" in vpc else None
        for i, item in enumerate(_list(vpc, "Subnets", where)):
            at = f"{where}.Subnets[{i}]"
            item = _object(item, at)
            subnet = Subnet(
                _id(item, "SubnetId", _SUBNET_ID, at),
                vpc_id,
                _network(item.get("CidrBlock"), f"{at}.CidrBlock"),
            )
            if block is not None and not subnet.cidr.subnet_of(block):
                raise VpcConfigError(f"{at}: CidrBlock {subnet.cidr} is not inside the VPC's {block}")
            if subnet.id in subnets:
                raise VpcConfigError(f"{at}: SubnetId {subnet.id} is defined twice")
            subnets[subnet.id] = subnet
        for i, item in enumerate(_list(vpc, "SecurityGroups", where)):
            at = f"{where}.SecurityGroups[{i}]"
            item = _object(item, at)
            group_id = _id(item, "GroupId", _GROUP_ID, at)
            if group_id in groups:
                raise VpcConfigError(f"{at}: GroupId {group_id} is defined twice")
            rules = tuple(
                _rule(_object(rule, f"{at}.IpPermissionsEgress[{r}]"), f"{at}.IpPermissionsEgress[{r}]")
                for r, rule in enumerate(_list(item, "IpPermissionsEgress", at))
            )
            groups[group_id] = SecurityGroup(group_id, vpc_id, rules)
    return Catalog(subnets, groups)


def _rule(item: Mapping[str, Any], at: str) -> EgressRule:
    protocol = _PROTOCOLS.get(str(item.get("IpProtocol", "")).lower())
    if protocol is None:
        raise VpcConfigError(f"{at}.IpProtocol: {item.get('IpProtocol')!r} is none of tcp, udp, icmp, -1")
    networks = tuple(
        _network(_object(entry, f"{at}.IpRanges[{k}]").get("CidrIp"), f"{at}.IpRanges[{k}].CidrIp")
        for k, entry in enumerate(_list(item, "IpRanges", at))
    )
    if protocol == ALL:
        return EgressRule(ALL, -1, -1, networks)
    low, high = _port(item, "FromPort", at), _port(item, "ToPort", at)
    if protocol == "icmp":
        if not (-1 <= low <= 255 and -1 <= high <= 255):
            raise VpcConfigError(f"{at}: an icmp rule's FromPort (type) and ToPort (code) are -1 or 0-255")
        return EgressRule(protocol, low, high, networks)
    if not 0 <= low <= high <= 65535:
        raise VpcConfigError(f"{at}: ports {low}-{high} are not a range within 0-65535")
    return EgressRule(protocol, low, high, networks)


def _port(item: Mapping[str, Any], key: str, at: str) -> int:
    value = item.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise VpcConfigError(f"{at}.{key}: a port number is required, not {value!r}")
    return value


def _object(value: Any, at: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise VpcConfigError(f"{at}: an object is expected")
    return value


def _list(item: Mapping[str, Any], key: str, at: str) -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise VpcConfigError(f"{at}.{key}: a list is expected")
    return value


def _id(item: Mapping[str, Any], key: str, pattern: re.Pattern[str], at: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise VpcConfigError(f"{at}.{key}: {value!r} is not an id of the form {pattern.pattern}")
    return value


def _network(value: Any, at: str) -> IPv4Network:
    if not isinstance(value, str):
        raise VpcConfigError(f"{at}: an IPv4 CIDR is required, not {value!r}")
    try:
        return IPv4Network(value.strip(), strict=False)
    except ValueError as exc:
        raise VpcConfigError(f"{at}: {value!r} is not an IPv4 CIDR ({exc})") from None
