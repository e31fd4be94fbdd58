"""Which region's gateway answers: the region of the request's credential scope, else the home region's."""

from __future__ import annotations

from typing import Any

import pytest

from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.aws_regions import RegionalAws, scoped_region
from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.protocol.gateway import AwsGateway

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/{region}/sqs/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc123"
)
PRESIGNED = (
    "/2015-03-31/functions/f/invocations?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20261206%2F{region}%2Flambda%2Faws4_request&X-Amz-Signature=ab"
)


def test_the_region_is_read_from_the_authorization_header() -> None:
    assert scoped_region(SIGNED.format(region="eu-west-1"), "/") == "eu-west-1"
    assert scoped_region("AWS4-HMAC-SHA256 Credential=AKID/20261206/ap-south-1/s3/aws4_request", "/") == (
        "ap-south-1"
    )


def test_the_region_is_read_from_a_presigned_url() -> None:
    assert scoped_region(None, PRESIGNED.format(region="eu-west-1")) == "eu-west-1"


@pytest.mark.parametrize(
    ("authorization", "target"),
    [
        (None, "/"),
        ("Bearer token", "/"),
        ("AWS4-HMAC-SHA256 Credential=AKID/20261206/eu-west-1, Signature=x", "/"),
        (None, "/X-Amz-Credential=AKID%2Fd%2Feu-west-1%2Fs%2Faws4_request"),  # in the path, not the query
    ],
)
def test_a_request_without_a_well_formed_scope_has_no_region(authorization: str | None, target: str) -> None:
    assert scoped_region(authorization, target) is None


def gateway(region: str) -> AwsAsgi:
    return AwsAsgi(
        AwsGateway({}, "000000000000", Keyring(Credentials("AKID", "s"), "000000000000"), region=region)
    )


def test_the_gateway_of_the_signed_region_answers_else_the_home_regions() -> None:
    home, other = gateway("us-east-1"), gateway("eu-west-1")
    routed = RegionalAws({"us-east-1": home, "eu-west-1": other}, "us-east-1")
    assert routed.pick({"authorization": SIGNED.format(region="eu-west-1")}, "/") is other.gateway
    assert routed.pick({"authorization": SIGNED.format(region="us-east-1")}, "/") is home.gateway
    assert routed.pick({}, PRESIGNED.format(region="eu-west-1")) is other.gateway
    assert routed.pick({"authorization": SIGNED.format(region="ap-south-1")}, "/") is home.gateway
    assert routed.pick({}, "/") is home.gateway


def test_over_asgi_the_same_choice_is_made() -> None:
    home, other = gateway("us-east-1"), gateway("eu-west-1")
    routed = RegionalAws({"us-east-1": home, "eu-west-1": other}, "us-east-1")
    signed: dict[str, Any] = {"headers": [(b"Authorization", SIGNED.format(region="eu-west-1").encode())]}
    assert routed.asgi_for(signed) is other
    presigned: dict[str, Any] = {
        "headers": [],
        "query_string": PRESIGNED.format(region="eu-west-1").split("?")[1].encode(),
    }
    assert routed.asgi_for(presigned) is other
    assert routed.asgi_for({"headers": []}) is home
