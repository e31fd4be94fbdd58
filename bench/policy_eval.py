"""Cost of one policy decision, in-process: a role with ten compiled policies asked about one action.

Anchor: `json.loads` of the same ten documents, the least an engine that did not compile its documents once
would pay on every decision. The ratio says how a compiled decision compares with that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from lambkin.identity.policy.document import parse_policy
from lambkin.identity.policy.evaluate import Question, evaluate
from lambkin.identity.principals import Principal

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench"
CALLER = Principal(
    "assumed-role", f"arn:aws:sts::{ACCOUNT}:assumed-role/bench/s", ACCOUNT, "AROABENCH:s", "s", ROLE
)


def _documents() -> list[str]:
    """Ten policies of the shape roles carry: logs, queues, tables of functions, a deny, conditions."""
    statements: list[list[dict[str, object]]] = [
        [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
        [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": f"arn:aws:sqs:*:{ACCOUNT}:in-*",
            }
        ],
        [
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:out",
            }
        ],
        [{"Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"}],
        [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-{i}" for i in range(20)],
            }
        ],
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/${aws:userid}/*"}],
        [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
        [
            {
                "Effect": "Allow",
                "Action": "dynamodb:*",
                "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/t{i}",
            }
            for i in range(5)
        ],
        [
            {
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        ],
        [
            {
                "Effect": "Allow",
                "Action": "lambda:GetFunction",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
            }
        ],
    ]
    return [json.dumps({"Version": "2012-10-17", "Statement": s}) for s in statements]


def _per_call(run: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        run()
    return (time.perf_counter() - started) / count


def main(count: int = 20000) -> None:
    documents = _documents()
    policies = [parse_policy(text) for text in documents]
    cases = {
        "allowed (queue send)": Question(
            CALLER, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:out", {"aws:SecureTransport": "true"}
        ),
        "implicit deny": Question(
            CALLER,
            "lambda:UpdateFunctionCode",
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x",
            {"aws:SecureTransport": "true"},
        ),
        "explicit deny": Question(
            CALLER, "lambda:DeleteFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x"
        ),
    }
    anchor = _per_call(lambda: [json.loads(text) for text in documents], count // 10)
    print(f"{'case':<24}{'evaluate µs':>14}{'10 json.loads µs':>20}{'ratio':>8}")
    for name, question in cases.items():
        spent = _per_call(lambda q=question: evaluate(q, policies), count)  # type: ignore[misc]
        print(f"{name:<24}{spent * 1e6:>14.1f}{anchor * 1e6:>20.1f}{spent / anchor:>8.2f}x")


if __name__ == "__main__":
    main()
