"""Renders the control plane's domain objects as Lambda output shapes, keyed by model member names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape

from lambkin.functions.account import CODE_SIZE_UNZIPPED, CODE_SIZE_ZIPPED, TOTAL_CODE_SIZE, AccountSettings
from lambkin.functions.model import Alias, FunctionVersion
from lambkin.functions.provisioned import ProvisionedConfig
from lambkin.protocol.encode import Fragment
from lambkin.protocol.model import service_index
from lambkin.protocol.serialize import fragment


@dataclass(slots=True)
class _Rendered:
    version: FunctionVersion
    configuration: dict[str, Any]
    text: Fragment | None = None  # the configuration's JSON, made the first time it is asked for


_RENDERED: dict[int, _Rendered] = {}
_RENDERED_LIMIT = 8192


def _rendered(version: FunctionVersion) -> _Rendered:
    """Versions are immutable and the repository hands out the same object for an unchanged row, so the
    rendering is remembered per object (checked by identity, not just id): a write makes a new object."""
    found = _RENDERED.get(id(version))
    if found is None or found.version is not version:
        if len(_RENDERED) >= _RENDERED_LIMIT:
            _RENDERED.clear()
        found = _RENDERED[id(version)] = _Rendered(version, _configuration(version))
    return found


def configuration(version: FunctionVersion, arn: str | None = None) -> dict[str, Any]:
    """A FunctionConfiguration. `arn` overrides FunctionArn (Lambda shows the alias ARN when asked by alias)."""
    out = dict(_rendered(version).configuration)
    if arn is not None:
        out["FunctionArn"] = arn
    return out


def configuration_json(version: FunctionVersion) -> Fragment:
    """A FunctionConfiguration (FunctionArn as `configuration` shows it) as its JSON text, encoded once per
    version: for GetFunction and, in `Fragments`, for the listings."""
    found = _rendered(version)
    if found.text is None:
        found.text = fragment(_configuration_shape(), found.configuration)
    return found.text


@cache
def _configuration_shape() -> Shape:
    return service_index("lambda").model.shape_for("FunctionConfiguration")


def _configuration(version: FunctionVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "FunctionName": version.name,
        "FunctionArn": version.function_arn if version.is_latest else version.qualified_arn,
        "Role": version.role,
        "CodeSize": version.code_size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": version.last_modified,
        "CodeSha256": version.code_sha256,
        "Version": version.version,
        "TracingConfig": {"Mode": version.tracing_mode},
        "RevisionId": version.revision_id,
        "State": version.state.value,
        "LastUpdateStatus": version.last_update_status.value,
        "PackageType": version.package_type,
        "Architectures": list(version.architectures),
        "EphemeralStorage": {"Size": version.ephemeral_storage},
        "LoggingConfig": _logging(version),
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "VpcConfig": {
            "SubnetIds": list(version.vpc_subnet_ids),
            "SecurityGroupIds": list(version.vpc_security_group_ids),
            "VpcId": version.vpc_id,
            "Ipv6AllowedForDualStack": version.vpc_ipv6_allowed,
        },
    }
    if version.environment:
        out["Environment"] = {"Variables": dict(version.environment)}
    if version.is_zip:
        out["Runtime"] = version.runtime
        if version.handler is not None:
            out["Handler"] = version.handler
        if version.layers:
            out["Layers"] = [
                {"Arn": arn, "CodeSize": size}
                for arn, size in zip(version.layers, version.layer_sizes, strict=True)
            ]
    for key, value in (
        ("StateReason", version.state_reason),
        ("StateReasonCode", version.state_reason_code),
        ("LastUpdateStatusReason", version.last_update_status_reason),
        ("LastUpdateStatusReasonCode", version.last_update_status_reason_code),
        ("KMSKeyArn", version.kms_key_arn),
    ):
        if value is not None:
            out[key] = value
    if version.dead_letter_target_arn:
        out["DeadLetterConfig"] = {"TargetArn": version.dead_letter_target_arn}
    image_config: dict[str, Any] = {}
    if version.entry_point is not None:
        image_config["EntryPoint"] = list(version.entry_point)
    if version.command is not None:
        image_config["Command"] = list(version.command)
    if version.working_directory is not None:
        image_config["WorkingDirectory"] = version.working_directory
    if image_config:
        out["ImageConfigResponse"] = {"ImageConfig": image_config}
    return out


def _logging(version: FunctionVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"LogFormat": version.log_format, "LogGroup": version.log_group_name}
    if version.application_log_level:
        out["ApplicationLogLevel"] = version.application_log_level
    if version.system_log_level:
        out["SystemLogLevel"] = version.system_log_level
    return out


def code_location(version: FunctionVersion, location: str | None = None) -> dict[str, Any]:
    """GetFunction's Code: the image, or for a zip function `location`, the package's download URL."""
    if version.is_zip:
        return {"RepositoryType": "S3", "Location": location or ""}
    out: dict[str, Any] = {"RepositoryType": "ECR", "ImageUri": version.image_uri}
    if version.resolved_image_uri:
        out["ResolvedImageUri"] = version.resolved_image_uri
    return out


def alias(found: Alias) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AliasArn": found.alias_arn,
        "Name": found.name,
        "FunctionVersion": found.function_version,
        "Description": found.description,
        "RevisionId": found.revision_id,
    }
    if found.additional_weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(found.additional_weights)}
    return out


def account_settings(settings: AccountSettings) -> dict[str, Any]:
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": settings.concurrent_executions,
            "UnreservedConcurrentExecutions": settings.unreserved_concurrent_executions,
        },
        "AccountUsage": {
            "TotalCodeSize": settings.total_code_size_used,
            "FunctionCount": settings.function_count,
        },
    }


def provisioned_config(config: ProvisionedConfig) -> dict[str, Any]:
    """The members Put/GetProvisionedConcurrencyConfig answer with (and each listed config carries)."""
    out: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "AvailableProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status,
        "LastModified": config.last_modified,
    }
    if config.status == "FAILED" and config.failure:
        out["StatusReason"] = config.failure
    return out
