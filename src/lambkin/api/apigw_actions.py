"""API Gateway v2's action table: as AWS's Service Authorization Reference ("Amazon API Gateway
Management V2") gives them, each operation's action is its HTTP method (`apigateway:GET`, `apigateway:POST`,
`apigateway:PATCH`, `apigateway:DELETE`, `apigateway:PUT`) on the resource its path names, without the
`/v2` prefix: `arn:aws:apigateway:REGION::/apis/API-ID/routes/ROUTE-ID`; tags act on the tagged resource's ARN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from botocore.model import OperationModel

from lambkin.api.authorize import ActionTable, Rule, Target
from lambkin.protocol.service import RequestContext

_LABEL = re.compile(r"\{([^}]+)\}")


def _rule(operation: OperationModel) -> Rule:
    action = "apigateway:" + operation.http.get("method", "GET").upper()
    template = operation.http.get("requestUri", "/").split("?", 1)[0].removeprefix("/v2")
    members = {
        member.serialization.get("name", name): name
        for name, member in (operation.input_shape.members.items() if operation.input_shape else ())
    }

    def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
        if "ResourceArn" in arguments:
            return Target(action, str(arguments["ResourceArn"]))
        path = _LABEL.sub(lambda found: str(arguments.get(members.get(found.group(1), ""), "*")), template)
        return Target(action, f"arn:aws:apigateway:{context.region}::{path}")

    return rule


def apigw_actions(operations: Iterable[OperationModel]) -> ActionTable:
    """The rules of the apigatewayv2 operations given (those lambkin serves, or the whole model)."""
    return {operation.name: _rule(operation) for operation in operations}
