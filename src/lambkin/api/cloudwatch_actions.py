"""CloudWatch's action table for the metrics operations lambkin serves: as AWS's Service Authorization
Reference gives them, none of them names a resource type, so each is asked about resource "*"."""

from __future__ import annotations

from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target
from lambkin.protocol.service import RequestContext

OPERATIONS = ("PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics")


def cloudwatch_actions() -> ActionTable:
    def on_anything(operation: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return Target(f"cloudwatch:{operation}", "*")

        return rule

    return {operation: on_anything(operation) for operation in OPERATIONS}
