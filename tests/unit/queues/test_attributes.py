"""Queue names and attributes: defaults, ranges, FIFO-only names, redrive policies, idempotent create."""

from __future__ import annotations

import pytest

from lambkin.queues import attributes as attrs
from lambkin.queues.attributes import QueueConfig
from lambkin.queues.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue


def test_defaults_render_as_strings() -> None:
    rendered = QueueConfig().render()
    assert rendered["MaximumMessageSize"] == "1048576"
    assert rendered["VisibilityTimeout"] == "30"
    assert rendered["MessageRetentionPeriod"] == "345600"
    assert "FifoQueue" not in rendered


def test_apply_validates_ranges_and_names() -> None:
    config = attrs.apply(QueueConfig(), {"DelaySeconds": "900", "VisibilityTimeout": "0"}, creating=True)
    assert (config.delay_seconds, config.visibility_timeout) == (900, 0)
    with pytest.raises(InvalidAttributeValue):
        attrs.apply(QueueConfig(), {"DelaySeconds": "901"}, creating=True)
    with pytest.raises(InvalidAttributeValue):
        attrs.apply(QueueConfig(), {"MaximumMessageSize": "1048577"}, creating=True)
    with pytest.raises(InvalidAttributeName):
        attrs.apply(QueueConfig(), {"Colour": "blue"}, creating=True)
    with pytest.raises(InvalidAttributeName):
        attrs.apply(QueueConfig(), {"ContentBasedDeduplication": "true"}, creating=True)


def test_fifo_names_and_flags() -> None:
    assert attrs.is_fifo_request("q.fifo", {"FifoQueue": "true"})
    with pytest.raises(InvalidParameterValue):
        attrs.is_fifo_request("q.fifo", {})
    with pytest.raises(InvalidParameterValue):
        attrs.validate_name("q", fifo=True)
    with pytest.raises(InvalidParameterValue):
        attrs.validate_name("bad name", fifo=False)
    with pytest.raises(InvalidParameterValue):
        attrs.validate_name("x" * 81, fifo=False)
    attrs.validate_name("x" * 80, fifo=False)
    fifo = QueueConfig(fifo=True)
    with pytest.raises(InvalidAttributeValue):
        attrs.apply(fifo, {"FifoQueue": "false"}, creating=False)


def test_redrive_policy_parsing() -> None:
    policy = attrs.parse_redrive_policy('{"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":"3"}')
    assert policy is not None and policy.max_receive_count == 3
    assert policy.render() == '{"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":3}'
    assert attrs.parse_redrive_policy("") is None
    with pytest.raises(InvalidParameterValue):
        attrs.parse_redrive_policy('{"maxReceiveCount":3}')
    with pytest.raises(InvalidParameterValue):
        attrs.parse_redrive_policy('{"deadLetterTargetArn":"a","maxReceiveCount":0}')


def test_redrive_allow_policy() -> None:
    by_queue = attrs.parse_redrive_allow_policy('{"redrivePermission":"byQueue","sourceQueueArns":["arn:a"]}')
    assert by_queue is not None and by_queue.allows("arn:a") and not by_queue.allows("arn:b")
    deny = attrs.parse_redrive_allow_policy('{"redrivePermission":"denyAll"}')
    assert deny is not None and not deny.allows("arn:a")
    with pytest.raises(InvalidParameterValue):
        attrs.parse_redrive_allow_policy('{"redrivePermission":"byQueue"}')


def test_differs_compares_only_named_attributes() -> None:
    config = attrs.apply(QueueConfig(), {"VisibilityTimeout": "60"}, creating=True)
    assert attrs.differs(config, {}) is None
    assert attrs.differs(config, {"VisibilityTimeout": "60"}) is None
    assert attrs.differs(config, {"VisibilityTimeout": "30"}) == "VisibilityTimeout"
    assert attrs.differs(
        config, {"VisibilityTimeout": "60", "DelaySeconds": "5", "MaximumMessageSize": "1024"}
    ) == ("DelaySeconds")
