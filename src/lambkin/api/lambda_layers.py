"""The Lambda layer operations' handlers: model input → LayerService calls → model output shapes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from lambkin.functions.control import ControlPlane
from lambkin.functions.layer_store import LayerVersion
from lambkin.functions.layers import LayerService
from lambkin.functions.zip_code import NO_S3
from lambkin.protocol.errors import AwsError

Input = dict[str, Any]
Output = dict[str, Any]


def _layers(cp: ControlPlane) -> LayerService:
    if cp.layers is None:
        raise AwsError(
            "InvalidParameterValueException", "Layers are not available on this server.", Type="User"
        )
    return cp.layers


def _item(layers: LayerService, version: LayerVersion) -> Output:
    """A LayerVersionsListItem."""
    out: Output = {
        "LayerVersionArn": layers.version_arn(version.name, version.version),
        "Version": version.version,
        "Description": version.description,
        "CreatedDate": version.created,
        "CompatibleRuntimes": list(version.compatible_runtimes),
        "CompatibleArchitectures": list(version.compatible_architectures),
    }
    if version.license_info is not None:
        out["LicenseInfo"] = version.license_info
    return out


def _version(cp: ControlPlane, layers: LayerService, version: LayerVersion) -> Output:
    """A GetLayerVersionResponse (PublishLayerVersion's too)."""
    location = cp.package_url(version.package_digest) if cp.package_url else ""
    return {
        "Content": {"Location": location, "CodeSha256": version.code_sha256, "CodeSize": version.code_size},
        "LayerArn": layers.layer_arn(version.name),
        **_item(layers, version),
    }


async def publish_layer_version(cp: ControlPlane, params: Input) -> Output:
    layers = _layers(cp)
    content = params.get("Content") or {}
    if any(key in content for key in ("S3Bucket", "S3Key", "S3ObjectVersion")):
        raise AwsError("InvalidParameterValueException", NO_S3, Type="User")
    if "ZipFile" not in content:
        raise AwsError(
            "InvalidParameterValueException", "Please provide a source for the layer content.", Type="User"
        )
    published = await layers.publish(
        params["LayerName"],
        content["ZipFile"],
        params.get("Description", ""),
        params.get("CompatibleRuntimes") or (),
        params.get("CompatibleArchitectures") or (),
        params.get("LicenseInfo"),
    )
    return _version(cp, layers, published)


async def get_layer_version(cp: ControlPlane, params: Input) -> Output:
    layers = _layers(cp)
    return _version(cp, layers, await layers.get(params["LayerName"], params["VersionNumber"]))


async def get_layer_version_by_arn(cp: ControlPlane, params: Input) -> Output:
    layers = _layers(cp)
    return _version(cp, layers, await layers.get_by_arn(params["Arn"]))


async def list_layers(cp: ControlPlane, params: Input) -> Output:
    layers = _layers(cp)
    page = await layers.list_layers(
        params.get("CompatibleRuntime"),
        params.get("CompatibleArchitecture"),
        params.get("Marker"),
        params.get("MaxItems"),
    )
    out: Output = {
        "Layers": [
            {
                "LayerName": v.name,
                "LayerArn": layers.layer_arn(v.name),
                "LatestMatchingVersion": _item(layers, v),
            }
            for v in page.items
        ]
    }
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


async def list_layer_versions(cp: ControlPlane, params: Input) -> Output:
    layers = _layers(cp)
    page = await layers.list_versions(
        params["LayerName"],
        params.get("CompatibleRuntime"),
        params.get("CompatibleArchitecture"),
        params.get("Marker"),
        params.get("MaxItems"),
    )
    out: Output = {"LayerVersions": [_item(layers, v) for v in page.items]}
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


async def delete_layer_version(cp: ControlPlane, params: Input) -> Output:
    await _layers(cp).delete(params["LayerName"], params["VersionNumber"])
    return {}


async def add_layer_version_permission(cp: ControlPlane, params: Input) -> Output:
    statement, revision = await _layers(cp).add_permission(
        params["LayerName"],
        params["VersionNumber"],
        params["StatementId"],
        params["Principal"],
        params.get("OrganizationId"),
        params.get("RevisionId"),
    )
    return {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision}


async def remove_layer_version_permission(cp: ControlPlane, params: Input) -> Output:
    await _layers(cp).remove_permission(
        params["LayerName"], params["VersionNumber"], params["StatementId"], params.get("RevisionId")
    )
    return {}


async def get_layer_version_policy(cp: ControlPlane, params: Input) -> Output:
    policy, revision = await _layers(cp).policy(params["LayerName"], params["VersionNumber"])
    return {"Policy": policy, "RevisionId": revision}


LAYER_OPERATIONS: dict[str, Callable[[ControlPlane, Input], Awaitable[Output]]] = {
    "PublishLayerVersion": publish_layer_version,
    "GetLayerVersion": get_layer_version,
    "GetLayerVersionByArn": get_layer_version_by_arn,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "DeleteLayerVersion": delete_layer_version,
    "AddLayerVersionPermission": add_layer_version_permission,
    "RemoveLayerVersionPermission": remove_layer_version_permission,
    "GetLayerVersionPolicy": get_layer_version_policy,
}
