"""The operator's VPC file (LAMBKIN_VPC_CONFIG): JSON or TOML in EC2's shapes, each fault named precisely."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lambkin.network.vpc import ALL, EgressRule, VpcConfigError, load, parse


def _file(**over: Any) -> dict[str, Any]:
    vpc: dict[str, Any] = {
        "VpcId": "vpc-0a1",
        "CidrBlock": "10.0.0.0/16",
        "Subnets": [{"SubnetId": "subnet-0a1", "CidrBlock": "10.0.1.0/24"}],
        "SecurityGroups": [
            {
                "GroupId": "sg-db",
                "IpPermissionsEgress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "IpRanges": [{"CidrIp": "10.0.2.0/24"}],
                    }
                ],
            },
            {
                "GroupId": "sg-any",
                "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            },
        ],
    }
    vpc.update(over)
    return {"Vpcs": [vpc]}


def test_subnets_and_groups_are_found_by_id_with_their_vpc() -> None:
    catalog = parse(_file())
    assert catalog.subnets["subnet-0a1"].vpc_id == "vpc-0a1"
    assert catalog.subnets["subnet-0a1"].cidr == IPv4Network("10.0.1.0/24")
    assert catalog.security_groups["sg-db"].egress == (
        EgressRule("tcp", 5432, 5432, (IPv4Network("10.0.2.0/24"),)),
    )


def test_a_functions_egress_is_the_union_of_its_groups_rules() -> None:
    catalog = parse(_file())
    assert catalog.egress(["sg-db", "sg-any"]) == (
        EgressRule("tcp", 5432, 5432, (IPv4Network("10.0.2.0/24"),)),
        EgressRule(ALL, -1, -1, (IPv4Network("0.0.0.0/0"),)),
    )
    assert catalog.egress([]) == ()


def test_protocol_numbers_are_read_as_names() -> None:
    rule = {"IpProtocol": "17", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.2/32"}]}
    catalog = parse(_file(SecurityGroups=[{"GroupId": "sg-dns", "IpPermissionsEgress": [rule]}]))
    assert catalog.security_groups["sg-dns"].egress[0].protocol == "udp"


def test_toml_reads_as_json_does(tmp_path: Path) -> None:
    toml = tmp_path / "vpc.toml"
    toml.write_text(
        """
[[Vpcs]]
VpcId = "vpc-0a1"
Subnets = [{SubnetId = "subnet-0a1", CidrBlock = "10.0.1.0/24"}]

[[Vpcs.SecurityGroups]]
GroupId = "sg-web"

[[Vpcs.SecurityGroups.IpPermissionsEgress]]
IpProtocol = "tcp"
FromPort = 443
ToPort = 443
IpRanges = [{CidrIp = "0.0.0.0/0"}]
"""
    )
    catalog = load(str(toml))
    assert catalog.security_groups["sg-web"].egress == (
        EgressRule("tcp", 443, 443, (IPv4Network("0.0.0.0/0"),)),
    )
    assert "subnet-0a1" in catalog.subnets


def test_no_file_means_no_vpcs() -> None:
    assert load("").subnets == {}


@pytest.mark.parametrize(
    ("over", "fault"),
    [
        ({"VpcId": "vpc_bad"}, "Vpcs[0].VpcId: 'vpc_bad' is not an id"),
        (
            {"Subnets": [{"SubnetId": "subnet-1", "CidrBlock": "10.9.0.0/24"}]},
            "is not inside the VPC's 10.0.0.0/16",
        ),
        (
            {"Subnets": [{"SubnetId": "subnet-1", "CidrBlock": "nope"}]},
            "Vpcs[0].Subnets[0].CidrBlock: 'nope'",
        ),
        ({"Subnets": {"SubnetId": "subnet-1"}}, "Vpcs[0].Subnets: a list is expected"),
        (
            {"SecurityGroups": [{"GroupId": "sg-1", "IpPermissionsEgress": [{"IpProtocol": "gre"}]}]},
            "IpPermissionsEgress[0].IpProtocol: 'gre' is none of",
        ),
        (
            {
                "SecurityGroups": [
                    {"GroupId": "sg-1", "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 9}]}
                ]
            },
            "IpPermissionsEgress[0].ToPort: a port number is required",
        ),
        (
            {
                "SecurityGroups": [
                    {
                        "GroupId": "sg-1",
                        "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 9, "ToPort": 8}],
                    }
                ]
            },
            "ports 9-8 are not a range",
        ),
        ({"SecurityGroups": [{"GroupId": "sg-1"}, {"GroupId": "sg-1"}]}, "GroupId sg-1 is defined twice"),
    ],
)
def test_a_bad_file_names_the_fault(over: dict[str, Any], fault: str) -> None:
    with pytest.raises(VpcConfigError) as raised:
        parse(_file(**over))
    assert fault in str(raised.value)


def test_the_setting_and_the_path_lead_every_message(tmp_path: Path) -> None:
    broken = tmp_path / "vpc.json"
    broken.write_text("{not json")
    with pytest.raises(VpcConfigError, match=rf"^LAMBKIN_VPC_CONFIG: {broken} is not valid JSON"):
        load(str(broken))
    with pytest.raises(VpcConfigError, match=r"^LAMBKIN_VPC_CONFIG: cannot read .*missing.json"):
        load(str(tmp_path / "missing.json"))
    broken.write_text(json.dumps(_file(VpcId="nope")))
    with pytest.raises(VpcConfigError, match=rf"^LAMBKIN_VPC_CONFIG: {broken}: Vpcs\[0\]\.VpcId"):
        load(str(broken))
