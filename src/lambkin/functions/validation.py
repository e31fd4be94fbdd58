"""Lambda's semantic checks beyond the service model's own (limits of default Lambda, reserved keys, images)."""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Mapping, Sequence

from lambkin.functions.errors import InvalidParameterValue, ValidationFailed
from lambkin.functions.model import VpcChange
from lambkin.network.vpc import Catalog

MEMORY_MIN, MEMORY_MAX = 128, 10_240
TIMEOUT_MIN, TIMEOUT_MAX = 1, 900
EPHEMERAL_MIN, EPHEMERAL_MAX = 512, 10_240
ENVIRONMENT_MAX_BYTES = 4096

RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
RESERVED_ENVIRONMENT_PREFIXES = ("AWS_LAMBDA_",)

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
_IMAGE_REFERENCE = re.compile(
    rf"{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?"
)

ZIP_NOT_SUPPORTED = (
    "PackageType Zip is not available on this server: create the function from a container image "
    "(PackageType Image with Code.ImageUri)"
)


def _range(value: int, member: str, low: int, high: int) -> None:
    if value < low:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )


def check_memory_size(value: int) -> int:
    _range(value, "memorySize", MEMORY_MIN, MEMORY_MAX)
    return value


def check_timeout(value: int) -> int:
    _range(value, "timeout", TIMEOUT_MIN, TIMEOUT_MAX)
    return value


def check_ephemeral_storage(value: int) -> int:
    _range(value, "ephemeralStorage.size", EPHEMERAL_MIN, EPHEMERAL_MAX)
    return value


def check_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """The variables, if they fit Lambda's 4 KB and avoid its reserved keys."""
    reserved = sorted(
        key
        for key in variables
        if key in RESERVED_ENVIRONMENT_KEYS or key.startswith(RESERVED_ENVIRONMENT_PREFIXES)
    )
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment variables "
            "you have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(dict(variables), separators=(",", ":"))
    if len(measured.encode()) > ENVIRONMENT_MAX_BYTES:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment variables "
            "you have provided exceeded the 4KB limit. "
            f"String measured: {measured}"
        )
    return dict(variables)


def host_architecture() -> str:
    """The Lambda architecture name of this machine."""
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def check_architectures(requested: Sequence[str], host: str) -> tuple[str, ...]:
    if len(requested) != 1:
        raise InvalidParameterValue("Architectures must contain exactly one architecture.")
    if requested[0] != host:
        raise InvalidParameterValue(
            f"Architecture {requested[0]} is not supported on this lambkin host, which runs {host} only."
        )
    return (requested[0],)


def check_image_uri(uri: str) -> str:
    if not _IMAGE_REFERENCE.fullmatch(uri):
        raise InvalidParameterValue(f"Source image {uri} is not valid. Provide a valid source image.")
    return uri


def check_image_options(runtime: str | None, handler: str | None, layers: Sequence[str] | None) -> None:
    """Image functions take no Runtime, Handler or Layers."""
    if runtime is not None or handler is not None or layers:
        raise InvalidParameterValue(
            "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."
        )


def check_weights(function_version: str, weights: Mapping[str, float]) -> dict[str, float]:
    """An alias's additional version weights: at most one other published version, weight in [0, 1]."""
    if not weights:
        return {}
    if function_version == "$LATEST":
        raise InvalidParameterValue("$LATEST is not supported for an alias pointing to more than 1 version")
    if len(weights) > 1:
        raise InvalidParameterValue(
            "Number of items in AdditionalVersionWeights must be less than or equal to 1"
        )
    for version, weight in weights.items():
        if not version.isdigit():
            raise InvalidParameterValue(f"Invalid function version {version}.")
        if version == function_version:
            raise InvalidParameterValue(
                f"Invalid function version {version}. Function version {version} is already included in "
                "routing configuration."
            )
        if not 0.0 <= weight <= 1.0:
            raise InvalidParameterValue(
                f"Invalid weight {weight} for version {version}: must be between 0.0 and 1.0"
            )
    return dict(weights)


def check_vpc(vpc: VpcChange, catalog: Catalog) -> VpcChange:
    """VpcConfig's ids checked against the operator's VPCs as Lambda checks them against EC2's, with the
    VPC they are in; both lists empty detach the function (VpcId "")."""
    if bool(vpc.subnet_ids) != bool(vpc.security_group_ids):
        raise InvalidParameterValue("SubnetIds and SecurityIds must coexist or be both empty list.")
    if not vpc.subnet_ids:
        return VpcChange(ipv6_allowed=vpc.ipv6_allowed)
    for subnet_id in vpc.subnet_ids:
        if subnet_id not in catalog.subnets:
            raise InvalidParameterValue(
                "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
                f"EC2 Error Message: The subnet ID '{subnet_id}' does not exist"
            )
    for group_id in vpc.security_group_ids:
        if group_id not in catalog.security_groups:
            raise InvalidParameterValue(
                "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
                f"EC2 Error Message: The security group '{group_id}' does not exist"
            )
    vpcs = {catalog.subnets[subnet_id].vpc_id for subnet_id in vpc.subnet_ids}
    if len(vpcs) > 1:
        raise InvalidParameterValue("Subnets are required to be in the same VPC.")
    (vpc_id,) = vpcs
    if any(catalog.security_groups[group_id].vpc_id != vpc_id for group_id in vpc.security_group_ids):
        raise InvalidParameterValue("Security Groups are required to be in the same VPC.")
    return VpcChange(
        tuple(dict.fromkeys(vpc.subnet_ids)),
        tuple(dict.fromkeys(vpc.security_group_ids)),
        vpc.ipv6_allowed,
        vpc_id,
    )
