"""The Lambda control plane's handler map: model input dicts → ControlPlane calls → model output dicts.

The control plane's errors (`functions/errors.py`) rise to the gateway, which renders them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambkin.api import lambda_render as render
from lambkin.api.lambda_layers import LAYER_OPERATIONS
from lambkin.functions.changes import ConfigChange, ImageConfig
from lambkin.functions.control import ControlPlane
from lambkin.functions.model import LATEST, VpcChange
from lambkin.functions.names import FunctionRef, is_version_qualifier
from lambkin.functions.policies import Permission
from lambkin.functions.validation import ZIP_NOT_SUPPORTED, check_image_options
from lambkin.functions.zip_code import NO_S3, ZipFunctions
from lambkin.protocol.encode import Fragments
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]
Operation = Callable[[ControlPlane, Input], Awaitable[Output]]


def _change(params: Mapping[str, Any]) -> ConfigChange:
    image = params.get("ImageConfig")
    environment = params.get("Environment")
    storage = params.get("EphemeralStorage")
    tracing = params.get("TracingConfig")
    dead_letter = params.get("DeadLetterConfig")
    vpc = params.get("VpcConfig")
    return ConfigChange(
        role=params.get("Role"),
        description=params.get("Description"),
        memory_size=params.get("MemorySize"),
        timeout=params.get("Timeout"),
        environment=None if environment is None else dict(environment.get("Variables") or {}),
        image_config=None
        if image is None
        else ImageConfig(
            entry_point=_tuple(image.get("EntryPoint")),
            command=_tuple(image.get("Command")),
            working_directory=image.get("WorkingDirectory"),
        ),
        ephemeral_storage=None if storage is None else storage.get("Size"),
        tracing_mode=None if tracing is None else tracing.get("Mode"),
        dead_letter_target_arn=None if dead_letter is None else dead_letter.get("TargetArn", ""),
        kms_key_arn=params.get("KMSKeyArn"),
        logging=params.get("LoggingConfig"),
        vpc=None
        if vpc is None
        else VpcChange(
            tuple(vpc.get("SubnetIds") or ()),
            tuple(vpc.get("SecurityGroupIds") or ()),
            bool(vpc.get("Ipv6AllowedForDualStack")),
        ),
    )


def _tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


async def create_function(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    code = params.get("Code") or {}
    architectures = params.get("Architectures")
    arch = None if architectures is None else tuple(architectures)
    zip_code = None
    if params.get("PackageType", "Zip") == "Zip":
        zip_functions = _zip_functions(cp, code)
        runtime = zip_functions.check_runtime(params.get("Runtime"), params.get("Handler"))
        zip_code = await zip_functions.build(
            code["ZipFile"], runtime, params.get("Handler"), params.get("Layers") or [], _arch(arch)
        )
    else:
        check_image_options(params.get("Runtime"), params.get("Handler"), params.get("Layers"))
        if "ImageUri" not in code:
            raise AwsError(
                "InvalidParameterValueException",
                "Please provide ImageUri when the intended function PackageType is Image.",
                Type="User",
            )
    created = await cp.functions.create(
        ref.name,
        params["Role"],
        zip_code.image_uri if zip_code else code["ImageUri"],
        _change(params),
        architectures=arch,
        tags=params.get("Tags"),
        publish=bool(params.get("Publish")),
        zip_code=zip_code,
    )
    return render.configuration(created)


def _arch(architectures: tuple[str, ...] | None) -> str | None:
    return architectures[0] if architectures else None


def _zip_functions(cp: ControlPlane, code: Mapping[str, Any]) -> ZipFunctions:
    """The zip functions' service, once the code is a ZipFile (S3 sources are refused, as is an image)."""
    if any(key in code for key in ("S3Bucket", "S3Key", "S3ObjectVersion")):
        raise AwsError("InvalidParameterValueException", NO_S3, Type="User")
    if "ImageUri" in code:
        raise AwsError(
            "InvalidParameterValueException",
            "Please don't provide ImageUri when the intended function PackageType is Zip.",
            Type="User",
        )
    if "ZipFile" not in code:
        raise AwsError(
            "InvalidParameterValueException", "Please provide a source for function code.", Type="User"
        )
    if cp.zip_functions is None:
        raise AwsError("InvalidParameterValueException", ZIP_NOT_SUPPORTED, Type="User")
    return cp.zip_functions


async def get_function(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    version, alias, record = await cp.functions.get(ref)
    configuration = (  # asked by alias, it shows the alias ARN; else the version's JSON text is reused
        render.configuration(version, alias.alias_arn) if alias else render.configuration_json(version)
    )
    location = cp.package_url(version.package_digest) if version.is_zip and cp.package_url else None
    out: Output = {"Configuration": configuration, "Code": render.code_location(version, location)}
    if record.tags:
        out["Tags"] = dict(record.tags)
    if record.reserved_concurrency is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved_concurrency}
    return out


async def get_function_configuration(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    version, alias, _ = await cp.functions.get(ref)
    return render.configuration(version, alias.alias_arn if alias else None)


async def list_functions(cp: ControlPlane, params: Input) -> Output:
    all_versions = params.get("FunctionVersion") == "ALL"
    page = await cp.functions.list(params.get("Marker"), params.get("MaxItems"), all_versions)
    out: Output = {"Functions": Fragments(render.configuration_json(v) for v in page.items)}
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


async def update_function_code(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    architectures = params.get("Architectures")
    arch = None if architectures is None else tuple(architectures)
    zip_code = None
    if "ImageUri" not in params:
        zip_functions = _zip_functions(cp, params)
        current, _, _ = await cp.functions.get(FunctionRef(ref.name, LATEST))
        if not current.is_zip:
            raise AwsError(
                "InvalidParameterValueException",
                "Please provide ImageUri when updating a function with packageType Image.",
                Type="User",
            )
        runtime = zip_functions.check_runtime(current.runtime, current.handler)
        zip_code = await zip_functions.build(
            params["ZipFile"],
            runtime,
            current.handler,
            current.layers,
            _arch(arch) or current.architectures[0],
        )
    updated = await cp.functions.update_code(
        ref,
        zip_code.image_uri if zip_code else params["ImageUri"],
        publish=bool(params.get("Publish")),
        revision_id=params.get("RevisionId"),
        architectures=arch,
        dry_run=bool(params.get("DryRun")),
        zip_code=zip_code,
    )
    return render.configuration(updated)


async def update_function_configuration(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    runtime, handler, layers = params.get("Runtime"), params.get("Handler"), params.get("Layers")
    zip_code = None
    if runtime is not None or handler is not None or layers is not None:
        current, _, _ = await cp.functions.get(FunctionRef(ref.name, LATEST))
        if not current.is_zip or cp.zip_functions is None:
            check_image_options(runtime, handler, layers)
        else:  # the same package on its new runtime, handler or layers: a new image, applied as a code update
            zip_code = await cp.zip_functions.recompose(current, runtime, handler, layers)
    updated = await cp.functions.update_configuration(ref, _change(params), params.get("RevisionId"))
    if zip_code is not None:
        updated = await cp.functions.update_code(ref, zip_code.image_uri, zip_code=zip_code)
    return render.configuration(updated)


async def delete_function(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    await cp.functions.delete(ref)
    await cp.policies.forget(ref)
    return {}


async def publish_version(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    version = await cp.functions.publish(
        ref, params.get("CodeSha256"), params.get("Description"), params.get("RevisionId")
    )
    return render.configuration(version)


async def list_versions_by_function(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    page = await cp.functions.list_versions(ref, params.get("Marker"), params.get("MaxItems"))
    out: Output = {"Versions": Fragments(render.configuration_json(v) for v in page.items)}
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


def _weights(params: Input) -> dict[str, float] | None:
    routing = params.get("RoutingConfig")
    if routing is None:
        return None
    return dict(routing.get("AdditionalVersionWeights") or {})


def _alias_name(name: str) -> str:
    if is_version_qualifier(name):
        raise AwsError("InvalidParameterValueException", f"Invalid alias name: {name}", Type="User")
    return name


async def create_alias(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    created = await cp.aliases.create(
        ref,
        _alias_name(params["Name"]),
        params["FunctionVersion"],
        params.get("Description", ""),
        _weights(params) or {},
    )
    return render.alias(created)


async def get_alias(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    return render.alias(await cp.aliases.get(ref, params["Name"]))


async def update_alias(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    updated = await cp.aliases.update(
        ref,
        params["Name"],
        params.get("FunctionVersion"),
        params.get("Description"),
        _weights(params),
        params.get("RevisionId"),
    )
    return render.alias(updated)


async def delete_alias(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    await cp.aliases.delete(ref, params["Name"])
    await cp.policies.forget(FunctionRef(ref.name, params["Name"]))
    return {}


async def list_aliases(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    page = await cp.aliases.list(
        ref, params.get("FunctionVersion"), params.get("Marker"), params.get("MaxItems")
    )
    out: Output = {"Aliases": [render.alias(a) for a in page.items]}
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


async def put_function_concurrency(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    reserved = await cp.account.put_concurrency(ref, params["ReservedConcurrentExecutions"])
    return {"ReservedConcurrentExecutions": reserved}


async def get_function_concurrency(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    reserved = await cp.account.get_concurrency(ref)
    return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}


async def delete_function_concurrency(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    await cp.account.delete_concurrency(ref)
    return {}


async def put_provisioned_concurrency_config(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params["Qualifier"])
    config = await cp.provisioned.put(ref, params["ProvisionedConcurrentExecutions"])
    return render.provisioned_config(config)


async def get_provisioned_concurrency_config(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params["Qualifier"])
    return render.provisioned_config(await cp.provisioned.get(ref))


async def delete_provisioned_concurrency_config(cp: ControlPlane, params: Input) -> Output:
    await cp.provisioned.delete(cp.arns.parse(params["FunctionName"], params["Qualifier"]))
    return {}


async def list_provisioned_concurrency_configs(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], qualified=False)
    page = await cp.provisioned.listing(ref, params.get("Marker"), params.get("MaxItems"))
    out: Output = {
        "ProvisionedConcurrencyConfigs": [
            {"FunctionArn": cp.arns.qualified(c.function_name, c.qualifier), **render.provisioned_config(c)}
            for c in page.items
        ]
    }
    if page.next_marker:
        out["NextMarker"] = page.next_marker
    return out


async def add_permission(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    permission = Permission(
        statement_id=params["StatementId"],
        action=params["Action"],
        principal=params["Principal"],
        source_arn=params.get("SourceArn"),
        source_account=params.get("SourceAccount"),
        event_source_token=params.get("EventSourceToken"),
        principal_org_id=params.get("PrincipalOrgID"),
        function_url_auth_type=params.get("FunctionUrlAuthType"),
        invoked_via_function_url=bool(params.get("InvokedViaFunctionUrl")),
    )
    return {"Statement": await cp.policies.add(ref, permission, params.get("RevisionId"))}


async def remove_permission(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    await cp.policies.remove(ref, params["StatementId"], params.get("RevisionId"))
    return {}


async def get_policy(cp: ControlPlane, params: Input) -> Output:
    ref = cp.arns.parse(params["FunctionName"], params.get("Qualifier"))
    policy, revision_id = await cp.policies.get(ref)
    return {"Policy": policy, "RevisionId": revision_id}


async def get_account_settings(cp: ControlPlane, params: Input) -> Output:
    return render.account_settings(await cp.account.settings())


async def tag_resource(cp: ControlPlane, params: Input) -> Output:
    await cp.account.tag(params["Resource"], params.get("Tags") or {})
    return {}


async def untag_resource(cp: ControlPlane, params: Input) -> Output:
    await cp.account.untag(params["Resource"], params.get("TagKeys") or [])
    return {}


async def list_tags(cp: ControlPlane, params: Input) -> Output:
    return {"Tags": dict(await cp.account.tags(params["Resource"]))}


OPERATIONS: dict[str, Operation] = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "ListFunctions": list_functions,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
    "DeleteFunction": delete_function,
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "PutFunctionConcurrency": put_function_concurrency,
    "GetFunctionConcurrency": get_function_concurrency,
    "DeleteFunctionConcurrency": delete_function_concurrency,
    "PutProvisionedConcurrencyConfig": put_provisioned_concurrency_config,
    "GetProvisionedConcurrencyConfig": get_provisioned_concurrency_config,
    "DeleteProvisionedConcurrencyConfig": delete_provisioned_concurrency_config,
    "ListProvisionedConcurrencyConfigs": list_provisioned_concurrency_configs,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "GetPolicy": get_policy,
    "GetAccountSettings": get_account_settings,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTags": list_tags,
    **LAYER_OPERATIONS,
}


def handlers(control: ControlPlane) -> dict[str, Handler]:
    """The "lambda" entry of the gateway's services: one Handler per control-plane operation."""

    def bind(operation: Operation) -> Handler:
        async def handle(params: Input, context: RequestContext) -> Output:
            return await operation(control, params)

        return handle

    return {name: bind(operation) for name, operation in OPERATIONS.items()}


__all__ = ["LATEST", "OPERATIONS", "handlers"]
