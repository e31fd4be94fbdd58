"""Property test: malformed and out-of-range input to every control-plane operation never gets a 500.

Inputs are drawn from the operation's own botocore input shape (right member names, any values: out of
range, wrong patterns, missing required members), sent by a boto3 client whose client-side validation is
off. Every rejection must be an error the model declares for that operation, or the model-level
ValidationException / InvalidRequestContentException that Lambda answers for shape violations.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambkin.api.lambda_api import OPERATIONS
from tests.e2e.lambda_support import create, push
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

MODEL = botocore.session.get_session().get_service_model("lambda")
PROTOCOL_ERRORS = {"ValidationException", "InvalidRequestContentException", "UnknownOperationException"}
FUNCTION = "prop-fn"
ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}"
TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_:.$/ @*", max_size=80)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _string(shape: Shape) -> st.SearchStrategy[str]:
    choices: list[st.SearchStrategy[str]] = [TEXT, st.just(""), st.text(min_size=200, max_size=400)]
    pattern = shape.metadata.get("pattern")
    if pattern and "(?!" not in pattern and _compiles(pattern):
        longest = shape.metadata.get("max", 200)
        choices += [st.from_regex(pattern, fullmatch=True).filter(lambda v: len(v) <= min(longest, 200))] * 3
    if shape.enum:
        choices.append(st.sampled_from(shape.enum))
    if shape.name in ("FunctionName", "NamespacedFunctionName", "Qualifier", "Alias", "Version"):
        choices += [st.sampled_from([FUNCTION, ARN, f"{FUNCTION}:1", f"{ARN}:live", "$LATEST", "1", "live"])]
    if shape.name in ("TaggableResource", "FunctionArn"):
        choices.append(st.sampled_from([ARN, f"{ARN}:1", "arn:aws:lambda:us-east-1:000000000000:function:x"]))
    return st.one_of(choices)


def _number(shape: Shape) -> st.SearchStrategy[Any]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    edges = [v for bound in (low, high) if bound is not None for v in (bound - 1, bound, bound + 1)]
    base: st.SearchStrategy[Any] = (
        st.floats(-10, 10, allow_nan=False)
        if shape.type_name in ("double", "float")
        else st.integers(-(2**33), 2**33)
    )
    return st.one_of(base, st.sampled_from(edges)) if edges else base


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long", "double", "float"):
        return _number(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=64)
    if kind == "timestamp":
        return st.datetimes(timezones=st.just(__import__("datetime").UTC))
    if depth > 3:
        return st.nothing()
    if kind == "list":
        return st.lists(strategy(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(strategy(shape.key, depth + 1), strategy(shape.value, depth + 1), max_size=3)
    required = set(shape.required_members)
    members = {name: strategy(member, depth + 1) for name, member in shape.members.items()}
    return st.fixed_dictionaries(
        {k: v for k, v in members.items() if k in required},
        optional={k: v for k, v in members.items() if k not in required},
    )


def operation_input(operation: OperationModel) -> st.SearchStrategy[dict[str, Any]]:
    shape = operation.input_shape
    if shape is None:
        return st.just({})
    full = strategy(shape)
    body_required = [
        name for name in shape.required_members if shape.members[name].serialization.get("location") != "uri"
    ]
    if not body_required:
        return full
    # Sometimes drop a required body member (the client itself cannot build a URI without its labels).
    return st.one_of(full, full.map(lambda d: {k: v for k, v in d.items() if k != body_required[0]}))


CALLS = st.sampled_from(sorted(OPERATIONS)).flatmap(
    lambda name: st.tuples(st.just(name), operation_input(MODEL.operation_model(name)))
)


@pytest.fixture(scope="module")
def raw_client(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    lam = server.client("lambda")
    uri, _ = push(server, tmp_path_factory.mktemp("images"), "prop-app", "v1", "prop")
    create(lam, FUNCTION, uri)
    lam.get_waiter("function_active_v2").wait(FunctionName=FUNCTION, WaiterConfig={"Delay": 1})
    lam.publish_version(FunctionName=FUNCTION)
    lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    return server.client(
        "lambda", config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})
    )


@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)  # examples: the profile's
@given(call=CALLS)
def test_no_input_gets_a_500_and_every_rejection_is_modelled(
    raw_client: Any, call: tuple[str, dict[str, Any]]
) -> None:
    name, params = call
    operation = MODEL.operation_model(name)
    method = getattr(raw_client, botocore.xform_name(name))
    try:
        method(**params)
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        code = exc.response["Error"]["Code"]
        assert status < 500, (name, params, exc.response)
        allowed = {shape.name for shape in operation.error_shapes} | PROTOCOL_ERRORS
        assert code in allowed, (name, params, code)
    except (ValueError, UnicodeError, TypeError, AttributeError, KeyError):
        pass  # the client itself could not serialize this input: nothing reached the server


BODY_ROUTES = [
    ("CreateFunction", "POST", "/2015-03-31/functions"),
    ("UpdateFunctionCode", "PUT", f"/2015-03-31/functions/{FUNCTION}/code"),
    ("UpdateFunctionConfiguration", "PUT", f"/2015-03-31/functions/{FUNCTION}/configuration"),
    ("PublishVersion", "POST", f"/2015-03-31/functions/{FUNCTION}/versions"),
    ("CreateAlias", "POST", f"/2015-03-31/functions/{FUNCTION}/aliases"),
    ("UpdateAlias", "PUT", f"/2015-03-31/functions/{FUNCTION}/aliases/live"),
    ("PutFunctionConcurrency", "PUT", f"/2017-10-31/functions/{FUNCTION}/concurrency"),
    ("TagResource", "POST", "/2017-03-31/tags/" + ARN.replace(":", "%3A")),
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(
        st.sampled_from(
            [
                "FunctionName",
                "Code",
                "Role",
                "MemorySize",
                "Timeout",
                "Environment",
                "Name",
                "FunctionVersion",
                "RoutingConfig",
                "ReservedConcurrentExecutions",
                "Tags",
                "ImageUri",
                "PackageType",
                "RevisionId",
                "ImageConfig",
                "Architectures",
            ]
        ),
        JSON_VALUES,
        max_size=6,
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)  # examples: the profile's
@given(route=st.sampled_from(BODY_ROUTES), body=BODIES)
def test_raw_bodies_never_get_a_500(
    raw_client: Any, server: LambkinServer, route: tuple[str, str, str], body: bytes
) -> None:
    name, method, path = route
    request = AWSRequest(
        method=method, url=server.endpoint + path, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "lambda", "us-east-1").add_auth(request)
    response = httpx.request(
        method, server.endpoint + path, content=body, headers=dict(request.headers.items())
    )
    assert response.status_code < 500, (name, body, response.text)
    if response.status_code >= 400:
        code = response.headers.get("x-amzn-errortype", "").split(":")[0]
        allowed = {shape.name for shape in MODEL.operation_model(name).error_shapes} | PROTOCOL_ERRORS
        assert code in allowed, (name, body, code, response.text)
