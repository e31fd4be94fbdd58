"""Lambda's action table: each operation's IAM action and resource, as AWS's Service Authorization Reference
("Actions, resources, and condition keys for AWS Lambda") gives them.

Function operations act on the function's ARN; those that take a version or alias (a `Qualifier`, or a
name with `:qualifier`) on the qualified ARN, whose own policy (AddPermission with a Qualifier) decides
beside the caller's. Event source mappings act on their own ARN, except CreateEventSourceMapping, which
acts on "*" with the `lambda:FunctionArn` condition key. Listings and account settings act on "*".
"""

from __future__ import annotations

import functools
from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed
from lambkin.functions.model import LATEST
from lambkin.functions.names import Arns
from lambkin.functions.policies import FunctionPolicies
from lambkin.protocol.service import RequestContext

# Operations on a version or alias when one is named, on the function otherwise.
QUALIFIED = {
    "Invoke": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
    "InvokeAsync": "InvokeAsync",
    "GetFunction": "GetFunction",
    "GetFunctionConfiguration": "GetFunctionConfiguration",
    "DeleteFunction": "DeleteFunction",
    "AddPermission": "AddPermission",
    "RemovePermission": "RemovePermission",
    "GetPolicy": "GetPolicy",
    "PutProvisionedConcurrencyConfig": "PutProvisionedConcurrencyConfig",
    "GetProvisionedConcurrencyConfig": "GetProvisionedConcurrencyConfig",
    "DeleteProvisionedConcurrencyConfig": "DeleteProvisionedConcurrencyConfig",
    "PutFunctionEventInvokeConfig": "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig": "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig": "GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig": "DeleteFunctionEventInvokeConfig",
    "CreateFunctionUrlConfig": "CreateFunctionUrlConfig",
    "UpdateFunctionUrlConfig": "UpdateFunctionUrlConfig",
    "GetFunctionUrlConfig": "GetFunctionUrlConfig",
    "DeleteFunctionUrlConfig": "DeleteFunctionUrlConfig",
}
# Operations on the unqualified function.
UNQUALIFIED = (
    "CreateFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PublishVersion",
    "ListVersionsByFunction",
    "CreateAlias",
    "GetAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "PutFunctionConcurrency",
    "GetFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "ListProvisionedConcurrencyConfigs",
    "ListFunctionEventInvokeConfigs",
    "ListFunctionUrlConfigs",
)
TAGGING = ("TagResource", "UntagResource", "ListTags")  # on the ARN in `Resource`
MAPPINGS = ("GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping")
ANYWHERE = (
    "ListFunctions",
    "ListEventSourceMappings",
    "GetAccountSettings",
    "ListLayers",
    "ListLayerVersions",
)
# Layer operations on a layer version's ARN (PublishLayerVersion on the layer's); their IAM action.
LAYER_VERSIONS = {
    "GetLayerVersion": "GetLayerVersion",
    "DeleteLayerVersion": "DeleteLayerVersion",
    "AddLayerVersionPermission": "AddLayerVersionPermission",
    "RemoveLayerVersionPermission": "RemoveLayerVersionPermission",
    "GetLayerVersionPolicy": "GetLayerVersionPolicy",
}


def lambda_actions(arns: Arns, policies: FunctionPolicies) -> ActionTable:
    """The rules of every Lambda operation lambkin serves."""

    @functools.lru_cache(maxsize=4096)
    def resolve(raw: str, qualifier: str | None) -> tuple[str, str, str | None]:
        """The ARN a FunctionName (and Qualifier) names, the function's name, and the qualifier whose policy
        applies ($LATEST has the function's own). Pure, so remembered: the hot path parses no name twice."""
        ref = arns.parse(raw, qualifier)
        return arns.of(ref), ref.name, None if ref.qualifier == LATEST else ref.qualifier

    def qualified(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            arn, name, qualifier = resolve(arguments["FunctionName"], arguments.get("Qualifier"))
            return Target(action, arn, policies.text(name, qualifier), _keys(arguments))

        return rule

    def unqualified(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            _, name, _ = resolve(arguments["FunctionName"], None)
            # A function's layers are read: lambda:GetLayerVersion on each, as Lambda requires.
            layers = tuple(Target("lambda:GetLayerVersion", arn) for arn in arguments.get("Layers") or ())
            return Target(action, arns.function(name), policies.text(name, None), also=layers)

        return rule

    def tagging(action: str) -> Rule:
        return lambda arguments, context: Target(action, arguments["Resource"])

    mapping_prefix = f"arn:aws:lambda:{arns.region}:{arns.account_id}:event-source-mapping:"

    def mapping(action: str) -> Rule:
        return lambda arguments, context: Target(action, mapping_prefix + arguments["UUID"])

    def create_mapping(arguments: dict[str, Any], context: RequestContext) -> Target:
        ref = arns.parse(arguments["FunctionName"])
        return Target("lambda:CreateEventSourceMapping", "*", keys=(("lambda:FunctionArn", arns.of(ref)),))

    table: dict[str, Rule] = {op: qualified(f"lambda:{action}") for op, action in QUALIFIED.items()}
    table.update({op: unqualified(f"lambda:{op}") for op in UNQUALIFIED})
    table.update({op: tagging(f"lambda:{op}") for op in TAGGING})
    table.update({op: mapping(f"lambda:{op}") for op in MAPPINGS})
    table.update({op: fixed(f"lambda:{op}") for op in ANYWHERE})
    table["CreateEventSourceMapping"] = create_mapping
    layer_prefix = f"arn:aws:lambda:{arns.region}:{arns.account_id}:layer:"

    def layer(arguments: dict[str, Any]) -> str:
        """The layer's ARN from a LayerName (a name or the layer's ARN)."""
        raw: str = arguments["LayerName"]
        return raw if raw.startswith("arn:") else layer_prefix + raw

    def layer_version(action: str) -> Rule:
        return lambda arguments, context: Target(action, f"{layer(arguments)}:{arguments['VersionNumber']}")

    table.update({op: layer_version(f"lambda:{action}") for op, action in LAYER_VERSIONS.items()})
    table["PublishLayerVersion"] = lambda arguments, context: Target(
        "lambda:PublishLayerVersion", layer(arguments)
    )
    table["GetLayerVersionByArn"] = lambda arguments, context: Target(
        "lambda:GetLayerVersion", arguments["Arn"]
    )
    return table


def _keys(arguments: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Lambda's own condition keys an operation's input carries."""
    if "AuthType" not in arguments and "Principal" not in arguments:
        return ()
    keys: list[tuple[str, str]] = []
    if "AuthType" in arguments:  # Create/UpdateFunctionUrlConfig
        keys.append(("lambda:FunctionUrlAuthType", arguments["AuthType"]))
    if "Principal" in arguments:  # AddPermission
        keys.append(("lambda:Principal", arguments["Principal"]))
    return tuple(keys)
