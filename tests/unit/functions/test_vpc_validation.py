"""VpcConfig checked against the operator's VPCs with Lambda's errors; both lists empty detach."""

from __future__ import annotations

import pytest

from lambkin.functions import validation
from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.model import VpcChange
from lambkin.network.vpc import Catalog, parse

_CATALOG: Catalog = parse(
    {
        "Vpcs": [
            {
                "VpcId": "vpc-a",
                "Subnets": [
                    {"SubnetId": "subnet-a1", "CidrBlock": "10.0.1.0/24"},
                    {"SubnetId": "subnet-a2", "CidrBlock": "10.0.2.0/24"},
                ],
                "SecurityGroups": [{"GroupId": "sg-a"}],
            },
            {
                "VpcId": "vpc-b",
                "Subnets": [{"SubnetId": "subnet-b1", "CidrBlock": "10.1.1.0/24"}],
                "SecurityGroups": [{"GroupId": "sg-b"}],
            },
        ]
    }
)


def test_known_ids_get_their_vpc() -> None:
    checked = validation.check_vpc(VpcChange(("subnet-a1", "subnet-a2"), ("sg-a",)), _CATALOG)
    assert checked == VpcChange(("subnet-a1", "subnet-a2"), ("sg-a",), False, "vpc-a")


def test_both_lists_empty_detach() -> None:
    assert validation.check_vpc(VpcChange(), _CATALOG) == VpcChange()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (VpcChange(("subnet-a1",), ()), "SubnetIds and SecurityIds must coexist or be both empty list."),
        (VpcChange((), ("sg-a",)), "SubnetIds and SecurityIds must coexist or be both empty list."),
        (
            VpcChange(("subnet-zz",), ("sg-a",)),
            "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
            "EC2 Error Message: The subnet ID 'subnet-zz' does not exist",
        ),
        (
            VpcChange(("subnet-a1",), ("sg-zz",)),
            "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
            "EC2 Error Message: The security group 'sg-zz' does not exist",
        ),
        (VpcChange(("subnet-a1", "subnet-b1"), ("sg-a",)), "Subnets are required to be in the same VPC."),
        (VpcChange(("subnet-a1",), ("sg-b",)), "Security Groups are required to be in the same VPC."),
    ],
)
def test_lambdas_errors(change: VpcChange, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as raised:
        validation.check_vpc(change, _CATALOG)
    assert raised.value.message == message
