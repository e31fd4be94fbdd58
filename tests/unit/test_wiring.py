"""Composing the parts: each AWS operation is wired by one part only, and authorized by its rule."""

from __future__ import annotations

from typing import Any

import pytest

from lambkin.api.authorize import fixed
from lambkin.config import Settings
from lambkin.credentials import Credentials
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Keyring
from lambkin.testing.identity import FakeDirectory
from lambkin.wiring import Part, aws

KEYS = Keyring(Credentials("LKIATESTKEY000000000", "secret"), "000000000000")
TABLES = {
    "lambda": {"Invoke": fixed("lambda:InvokeFunction"), "GetFunction": fixed("lambda:GetFunction")},
    "sqs": {"ListQueues": fixed("sqs:ListQueues")},
}
AUTHORIZER = Authorizer(FakeDirectory(), "000000000000")


async def _handler(params: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}


def test_an_operation_two_parts_register_is_refused(tmp_path: Any) -> None:
    first = Part(handlers={"lambda": {"Invoke": _handler}})
    second = Part(handlers={"lambda": {"Invoke": _handler, "GetFunction": _handler}})
    with pytest.raises(ValueError, match="lambda operations wired twice: Invoke"):
        aws(Settings(data_dir=tmp_path), (first, second), KEYS, TABLES, AUTHORIZER)


def test_every_service_is_served_in_order_even_without_handlers(tmp_path: Any) -> None:
    served = aws(
        Settings(data_dir=tmp_path),
        (Part(handlers={"sqs": {"ListQueues": _handler}}),),
        KEYS,
        TABLES,
        AUTHORIZER,
    )
    assert list(served.gateway.services) == [
        "lambda",
        "sqs",
        "logs",
        "iam",
        "sts",
        "events",
        "scheduler",
        "apigatewayv2",
        "cloudwatch",
    ]


def test_an_operation_without_an_iam_action_is_refused(tmp_path: Any) -> None:
    unmapped = Part(handlers={"logs": {"GetLogEvents": _handler}})
    with pytest.raises(ValueError, match=r"operations without an IAM action: logs\.GetLogEvents"):
        aws(Settings(data_dir=tmp_path), (unmapped,), KEYS, TABLES, AUTHORIZER)


def test_the_gateway_asks_the_authorize_hook(tmp_path: Any) -> None:
    served = aws(
        Settings(data_dir=tmp_path),
        (Part(handlers={"sqs": {"ListQueues": _handler}}),),
        KEYS,
        TABLES,
        AUTHORIZER,
    )
    assert served.gateway.authorize is not None
