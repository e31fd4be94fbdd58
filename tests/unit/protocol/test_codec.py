"""parse and serialize on a small rest-json model that uses every location and timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.awsrequest import prepare_request_dict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from urllib3 import HTTPHeaderDict

from lambkin.protocol import serialize
from lambkin.protocol.encode import Fragments
from lambkin.protocol.errors import AwsError
from lambkin.protocol.model import ServiceIndex, service_index
from lambkin.protocol.parse import parse_rest_json

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
MODEL: dict[str, Any] = {
    "metadata": {"protocol": "rest-json", "apiVersion": "2020-01-01", "endpointPrefix": "widgets"},
    "operations": {
        "PutWidget": {
            "name": "PutWidget",
            "http": {
                "method": "POST",
                "requestUri": "/widgets/{Name}/files/{Path+}?mode=fast",
                "responseCode": 201,
            },
            "input": {"shape": "PutWidgetRequest"},
            "output": {"shape": "PutWidgetResponse"},
            "errors": [{"shape": "WidgetBusy"}],
        },
        "GetBlob": {
            "name": "GetBlob",
            "http": {"method": "GET", "requestUri": "/blobs/{Name}"},
            "input": {"shape": "GetBlobRequest"},
            "output": {"shape": "GetBlobResponse"},
        },
    },
    "shapes": {
        "PutWidgetRequest": {
            "type": "structure",
            "required": ["Name", "Path"],
            "members": {
                "Name": {"shape": "String", "location": "uri", "locationName": "Name"},
                "Path": {"shape": "String", "location": "uri", "locationName": "Path"},
                "Count": {"shape": "Integer", "location": "querystring", "locationName": "count"},
                "Tags": {"shape": "StringList", "location": "querystring", "locationName": "tag"},
                "Since": {"shape": "Timestamp", "location": "header", "locationName": "X-Since"},
                "Flags": {"shape": "StringList", "location": "header", "locationName": "X-Flags"},
                "Meta": {"shape": "JsonString", "location": "header", "locationName": "X-Meta"},
                "Extra": {"shape": "StringMap", "location": "headers", "locationName": "x-extra-"},
                "Nested": {"shape": "Nested"},
                "Data": {"shape": "Blob"},
                "Renamed": {"shape": "String", "locationName": "renamed_on_wire"},
            },
        },
        "PutWidgetResponse": {
            "type": "structure",
            "members": {
                "Status": {"shape": "Integer", "location": "statusCode"},
                "Etag": {"shape": "String", "location": "header", "locationName": "ETag"},
                "Modified": {"shape": "Timestamp", "location": "header", "locationName": "Last-Modified"},
                "Meta": {"shape": "JsonString", "location": "header", "locationName": "X-Meta"},
                "Extra": {"shape": "StringMap", "location": "headers", "locationName": "x-extra-"},
                "Created": {"shape": "Timestamp"},
                "CreatedIso": {"shape": "IsoTimestamp"},
                "Nested": {"shape": "Nested"},
                "Data": {"shape": "Blob"},
            },
        },
        "GetBlobRequest": {
            "type": "structure",
            "required": ["Name"],
            "members": {"Name": {"shape": "String", "location": "uri", "locationName": "Name"}},
        },
        "GetBlobResponse": {
            "type": "structure",
            "members": {
                "Body": {"shape": "Blob"},
                "Kind": {"shape": "String", "location": "header", "locationName": "X-Kind"},
            },
            "payload": "Body",
        },
        "WidgetBusy": {
            "type": "structure",
            "members": {
                "message": {"shape": "String"},
                "RetryAfter": {"shape": "String", "location": "header", "locationName": "Retry-After"},
            },
            "error": {"httpStatusCode": 409},
            "exception": True,
        },
        "Nested": {
            "type": "structure",
            "members": {
                "Items": {"shape": "StringList"},
                "Sizes": {"shape": "IntMap"},
                "On": {"shape": "Bool"},
            },
        },
        "String": {"type": "string"},
        "JsonString": {"type": "string", "jsonvalue": True},
        "Integer": {"type": "integer"},
        "Bool": {"type": "boolean"},
        "Blob": {"type": "blob"},
        "Timestamp": {"type": "timestamp"},
        "IsoTimestamp": {"type": "timestamp", "timestampFormat": "iso8601"},
        "StringList": {"type": "list", "member": {"shape": "String"}},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "IntMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Integer"}},
    },
}
SERVICE = ServiceModel(MODEL, service_name="widgets")
INDEX = ServiceIndex(SERVICE)


def _parse(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """botocore serializes; the route and the parser read it back."""
    op = SERVICE.operation_model(operation)
    request = create_serializer("rest-json", include_validation=False).serialize_to_request(params, op)
    prepare_request_dict(request, endpoint_url="http://localhost:9000")
    url = urlsplit(request["url"])
    query = parse_qs(url.query, keep_blank_values=True)
    match = INDEX.route(request["method"], url.path, query)
    assert match is not None and match.operation.name == operation
    headers = {k.lower(): str(v) for k, v in request["headers"].items()}
    body = request["body"] if isinstance(request["body"], bytes) else str(request["body"]).encode()
    return parse_rest_json(match.operation, match.labels, query, headers, body)


def _read(operation: str, reply: serialize.Reply) -> dict[str, Any]:
    headers = HTTPHeaderDict()
    for key, value in reply.headers:
        headers.add(key, value)
    parsed: dict[str, Any] = create_parser("rest-json").parse(
        {"status_code": reply.status, "headers": headers, "body": reply.body},
        SERVICE.operation_model(operation).output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_every_request_location_parses_back() -> None:
    params = {
        "Name": "w/1",
        "Path": "a/b c/d.txt",
        "Count": 3,
        "Tags": ["x", "y"],
        "Since": WHEN,
        "Flags": ["one", "two"],
        "Meta": {"k": [1, 2]},
        "Extra": {"color": "blue"},
        "Nested": {"Items": ["i"], "Sizes": {"s": 1}, "On": False},
        "Data": b"\x00\xff",
        "Renamed": "r",
    }
    assert _parse("PutWidget", params) == params


def test_every_response_location_serializes_as_botocore_reads_it() -> None:
    output = {
        "Status": 202,
        "Etag": '"abc"',
        "Modified": WHEN,
        "Meta": {"a": True},
        "Extra": {"color": "blue"},
        "Created": WHEN,
        "CreatedIso": WHEN,
        "Nested": {"Items": ["i"], "Sizes": {"s": 1}, "On": True},
        "Data": b"\x00\xff",
    }
    reply = serialize.rest_json(SERVICE.operation_model("PutWidget"), output)
    assert reply.status == 202
    assert _read("PutWidget", reply) == {**output, "Status": 202}


def test_response_code_default_and_raw_blob_payload() -> None:
    created = serialize.rest_json(SERVICE.operation_model("PutWidget"), {})
    assert created.status == 201
    blob = serialize.rest_json(SERVICE.operation_model("GetBlob"), {"Body": b"PNG", "Kind": "image"})
    assert blob.body == b"PNG"
    parsed = _read("GetBlob", blob)
    assert parsed["Kind"] == "image"


def test_a_listing_of_fragments_is_the_listing_encoded_item_by_item() -> None:
    lam = service_index("lambda").model
    listing = lam.operation_model("ListFunctions")
    shape = lam.shape_for("FunctionConfiguration")
    items = [
        {"FunctionName": f"f{i}", "Timeout": 3, "TracingConfig": {"Mode": "PassThrough"}} for i in range(3)
    ]
    encoded = serialize.rest_json(listing, {"Functions": items, "NextMarker": "m"})
    texts = Fragments(serialize.fragment(shape, item) for item in items)
    spliced = serialize.rest_json(listing, {"Functions": texts, "NextMarker": "m"})
    assert spliced.body == encoded.body
    assert spliced.status == encoded.status and spliced.headers == encoded.headers


def test_a_structure_member_given_as_a_fragment_is_the_structure_encoded() -> None:
    lam = service_index("lambda").model
    get = lam.operation_model("GetFunction")
    configuration = {"FunctionName": "f", "Timeout": 3, "TracingConfig": {"Mode": "PassThrough"}}
    code = {"RepositoryType": "ECR", "ImageUri": "reg/app:v1"}
    encoded = serialize.rest_json(get, {"Configuration": configuration, "Code": code})
    text = serialize.fragment(lam.shape_for("FunctionConfiguration"), configuration)
    spliced = serialize.rest_json(get, {"Configuration": text, "Code": code})
    assert spliced.body == encoded.body


def test_timestamps_accept_datetimes_epochs_and_iso_strings() -> None:
    op = SERVICE.operation_model("PutWidget")
    for value in (WHEN, WHEN.timestamp(), "2026-03-04T05:06:07Z"):
        assert _read("PutWidget", serialize.rest_json(op, {"Created": value}))["Created"] == WHEN


def test_modelled_error_uses_model_status_and_header_members() -> None:
    reply = serialize.error(INDEX, "rest-json", AwsError("WidgetBusy", "busy", RetryAfter="5"), "rid")
    assert reply.status == 409
    headers = dict(reply.headers)
    assert headers["x-amzn-errortype"] == "WidgetBusy"
    assert headers["Retry-After"] == "5"
    assert reply.body == b'{"message":"busy"}'


def test_unmodelled_error_defaults_to_400_and_explicit_status_wins() -> None:
    plain = serialize.error(INDEX, "rest-json", AwsError("Nope", "no"), "rid")
    assert plain.status == 400
    forced = serialize.error(INDEX, "rest-json", AwsError("WidgetBusy", "busy", 503), "rid")
    assert forced.status == 503
