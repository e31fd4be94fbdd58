"""Routing: every modelled operation, serialized by botocore, is routed back to itself."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lambkin.protocol.model import service_index
from tests.unit.protocol.samples import minimal
from tests.unit.protocol.wire import build


@pytest.mark.parametrize("operation", service_index("lambda").model.operation_names)
def test_every_lambda_operation_routes_to_itself(operation: str) -> None:
    index = service_index("lambda")
    params = minimal(index.model.operation_model(operation).input_shape)
    request = build("lambda", operation, params, sign=False)
    url = urlsplit(request.url)
    match = index.route(request.method, url.path, parse_qs(url.query, keep_blank_values=True))
    assert match is not None
    assert match.operation.name == operation


@pytest.mark.parametrize("service", ["sqs", "logs"])
def test_every_json_operation_is_found_by_its_target(service: str) -> None:
    index = service_index(service)
    for operation in index.model.operation_names:
        request = build(service, operation, {}, sign=False)
        found = index.by_target(request.headers["X-Amz-Target"])
        assert found is not None and found.name == operation


def test_greedy_and_query_literal_templates() -> None:
    index = service_index("lambda")
    listing = index.route("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"List": ["ALL"]})
    single = index.route("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"Qualifier": ["1"]})
    assert listing is not None and listing.operation.name == "ListProvisionedConcurrencyConfigs"
    assert single is not None and single.operation.name == "GetProvisionedConcurrencyConfig"


def test_labels_stay_encoded_until_parsed() -> None:
    match = service_index("lambda").route(
        "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af/invocations", {}
    )
    assert match is not None
    assert match.labels == {"FunctionName": "arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af"}


def test_unknown_paths_and_targets_do_not_route() -> None:
    index = service_index("lambda")
    assert index.route("GET", "/2015-03-31/nothing-here", {}) is None
    assert index.route("PATCH", "/2015-03-31/functions/f", {}) is None
    assert index.path_known("/2015-03-31/functions/f")
    assert service_index("sqs").by_target("AmazonSQS.NoSuchThing") is None
    assert service_index("sqs").by_target("Logs_20140328.PutLogEvents") is None
