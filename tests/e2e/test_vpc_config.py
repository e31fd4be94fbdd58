"""VpcConfig through boto3: the operator's subnets and security groups (LAMBKIN_VPC_CONFIG) picked by
CreateFunction / UpdateFunctionConfiguration, Lambda's errors for bad ids, the shape Lambda returns, detaching,
versions keeping theirs, and a bad file stopping the server with one line naming the setting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import create, push
from tests.harness import LambkinServer

NOT_IN_A_VPC = {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "", "Ipv6AllowedForDualStack": False}

VPCS = {
    "Vpcs": [
        {
            "VpcId": "vpc-0app",
            "CidrBlock": "10.20.0.0/16",
            "Subnets": [
                {"SubnetId": "subnet-0a", "CidrBlock": "10.20.1.0/24"},
                {"SubnetId": "subnet-0b", "CidrBlock": "10.20.2.0/24"},
            ],
            "SecurityGroups": [
                {
                    "GroupId": f"sg-0{n}",
                    "IpPermissionsEgress": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 5432,
                            "ToPort": 5432,
                            "IpRanges": [{"CidrIp": "10.20.9.0/24"}],
                        }
                    ],
                }
                for n in range(6)
            ],
        },
        {
            "VpcId": "vpc-0other",
            "Subnets": [{"SubnetId": "subnet-0other", "CidrBlock": "10.30.1.0/24"}],
            "SecurityGroups": [{"GroupId": "sg-0other"}],
        },
    ]
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    work = Path(tmp_path_factory.mktemp("lambkin"))
    (work / "vpc.json").write_text(json.dumps(VPCS))
    instance = LambkinServer(work / "data", env={"LAMBKIN_VPC_CONFIG": str(work / "vpc.json")}).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def uri(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push(server, tmp_path_factory.mktemp("images"), "vpc-app", "v1", "vpc")[0]


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda")


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_function_in_a_vpc_shows_its_subnets_groups_and_vpc_everywhere(lam: Any, uri: str) -> None:
    vpc = {"SubnetIds": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-00"]}
    created = create(lam, "in-vpc", uri, VpcConfig=vpc)
    expected = {**vpc, "VpcId": "vpc-0app", "Ipv6AllowedForDualStack": False}
    assert created["VpcConfig"] == expected
    assert lam.get_function_configuration(FunctionName="in-vpc")["VpcConfig"] == expected
    assert lam.get_function(FunctionName="in-vpc")["Configuration"]["VpcConfig"] == expected
    listed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert listed["in-vpc"]["VpcConfig"] == expected


def test_a_function_outside_a_vpc_shows_empty_lists_and_no_vpc(lam: Any, uri: str) -> None:
    created = create(lam, "no-vpc", uri)
    assert created["VpcConfig"] == NOT_IN_A_VPC
    assert lam.get_function_configuration(FunctionName="no-vpc")["VpcConfig"] == NOT_IN_A_VPC


@pytest.mark.parametrize(
    ("vpc", "code", "message"),
    [
        (
            {"SubnetIds": ["subnet-0a"]},
            "InvalidParameterValueException",
            "SubnetIds and SecurityIds must coexist or be both empty list.",
        ),
        (
            {"SubnetIds": ["subnet-0nope"], "SecurityGroupIds": ["sg-00"]},
            "InvalidParameterValueException",
            "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
            "EC2 Error Message: The subnet ID 'subnet-0nope' does not exist",
        ),
        (
            {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-0nope"]},
            "InvalidParameterValueException",
            "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
            "EC2 Error Message: The security group 'sg-0nope' does not exist",
        ),
        (
            {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-0other"]},
            "InvalidParameterValueException",
            "Security Groups are required to be in the same VPC.",
        ),
        (
            {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": [f"sg-0{n}" for n in range(6)]},
            "ValidationException",
            "Member must have length less than or equal to 5",
        ),
    ],
)
def test_bad_vpc_configs_get_lambdas_errors(
    lam: Any, uri: str, vpc: dict[str, Any], code: str, message: str
) -> None:
    found_code, found_message = _error(create, client=lam, name="bad-vpc", image_uri=uri, VpcConfig=vpc)
    assert found_code == code
    assert message in found_message
    assert _error(lam.get_function, FunctionName="bad-vpc")[0] == "ResourceNotFoundException"


def _active(lam: Any, name: str) -> None:
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
    )


def test_an_update_moves_the_function_and_empty_lists_detach_it(lam: Any, uri: str) -> None:
    create(lam, "moving", uri, VpcConfig={"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-00"]})
    _active(lam, "moving")
    moved = lam.update_function_configuration(
        FunctionName="moving", VpcConfig={"SubnetIds": ["subnet-0b"], "SecurityGroupIds": ["sg-01", "sg-02"]}
    )
    assert moved["VpcConfig"]["SubnetIds"] == ["subnet-0b"]
    assert moved["VpcConfig"]["SecurityGroupIds"] == ["sg-01", "sg-02"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="moving", WaiterConfig={"Delay": 0.2})
    unchanged = lam.update_function_configuration(FunctionName="moving", Timeout=9)
    assert unchanged["VpcConfig"]["SecurityGroupIds"] == ["sg-01", "sg-02"]  # not given: kept
    lam.get_waiter("function_updated_v2").wait(FunctionName="moving", WaiterConfig={"Delay": 0.2})
    detached = lam.update_function_configuration(
        FunctionName="moving", VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    assert detached["VpcConfig"] == NOT_IN_A_VPC
    bad = _error(
        lam.update_function_configuration, FunctionName="moving", VpcConfig={"SecurityGroupIds": ["sg-00"]}
    )
    assert bad == (
        "InvalidParameterValueException",
        "SubnetIds and SecurityIds must coexist or be both empty list.",
    )


def test_a_published_version_keeps_its_vpc_config_and_it_survives_a_restart(
    lam: Any, uri: str, server: LambkinServer
) -> None:
    vpc = {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-03"]}
    create(lam, "versioned", uri, VpcConfig=vpc)
    _active(lam, "versioned")
    assert lam.publish_version(FunctionName="versioned")["Version"] == "1"
    lam.update_function_configuration(
        FunctionName="versioned", VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="versioned", WaiterConfig={"Delay": 0.2})
    assert lam.publish_version(FunctionName="versioned")["Version"] == "2"  # a VPC change is a new version
    server.restart()
    first = lam.get_function_configuration(FunctionName="versioned", Qualifier="1")["VpcConfig"]
    assert first == {**vpc, "VpcId": "vpc-0app", "Ipv6AllowedForDualStack": False}
    assert lam.get_function_configuration(FunctionName="versioned")["VpcConfig"] == NOT_IN_A_VPC


@pytest.mark.parametrize(
    ("content", "name"),
    [('{"Vpcs": [{"VpcId": "vpc-1", "Subnets": 3}]}', "vpc.json"), ("Vpcs = [", "vpc.toml")],
)
def test_a_bad_file_stops_the_server_with_one_line_naming_the_setting(
    tmp_path: Path, content: str, name: str
) -> None:
    import subprocess

    (tmp_path / name).write_text(content)
    server = LambkinServer(tmp_path / "data", env={"LAMBKIN_VPC_CONFIG": str(tmp_path / name)})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambkin",
            "server",
            "--data-dir",
            str(server.data_dir),
            "--port",
            str(server.port),
        ],
        env=server.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"lambkin: LAMBKIN_VPC_CONFIG: {tmp_path / name}"), done.stderr
    assert "Traceback" not in done.stderr
