"""The gateway speaking the query protocol of services whose model is query (IAM, STS), beside SQS's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lambkin.protocol.errors import AwsError
from tests.unit.protocol.wire import ENDPOINT, KEY, build, client, echo, gateway, send

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
CALLER = {"UserId": "000000000000", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root"}


def refusing(code: str, message: str, status: int | None = None) -> Any:
    async def handle(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AwsError(code, message, status)

    return handle


def test_each_service_is_routed_by_its_signing_scope_and_answers_in_its_own_namespace() -> None:
    who, asked = echo(CALLER)
    roles, listed = echo({"Roles": [], "IsTruncated": False})
    queues, _ = echo({"QueueUrls": []})
    app = gateway(
        {"sqs": {"ListQueues": queues}, "sts": {"GetCallerIdentity": who}, "iam": {"ListRoles": roles}}
    )

    assert client(app, "sts").get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    assert client(app, "iam").list_roles()["Roles"] == []
    assert asked[0]["context"].service == "sts" and listed[0]["context"].service == "iam"

    answer = send(app, build("sts", "GetCallerIdentity", {}))
    root = ElementTree.fromstring(answer.body)
    assert root.tag == f"{STS_NS}GetCallerIdentityResponse"
    assert root.findtext(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account") == "000000000000"
    assert root.findtext(f"{STS_NS}ResponseMetadata/{STS_NS}RequestId") == answer.headers["x-amzn-requestid"]


def test_input_is_read_from_the_form_and_output_lists_and_timestamps_render_as_botocore_reads_them() -> None:
    expires = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    credentials = {"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expires}
    assumed = {"AssumedRoleId": "AROAX:s1", "Arn": "arn:aws:sts::000000000000:assumed-role/r/s1"}
    handler, seen = echo({"Credentials": credentials, "AssumedRoleUser": assumed, "PackedPolicySize": 6})
    sts = client(gateway({"sts": {"AssumeRole": handler}}), "sts")

    answer = sts.assume_role(
        RoleArn="arn:aws:iam::000000000000:role/r",
        RoleSessionName="s1",
        DurationSeconds=900,
        Tags=[{"Key": "team", "Value": "a"}],
    )

    assert seen[0]["params"] == {
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "RoleSessionName": "s1",
        "DurationSeconds": 900,
        "Tags": [{"Key": "team", "Value": "a"}],
    }
    assert answer["Credentials"] == credentials
    assert answer["AssumedRoleUser"] == assumed


def test_a_modelled_error_goes_by_its_wire_code_and_status() -> None:
    iam = client(
        gateway(
            {"iam": {"GetRole": refusing("NoSuchEntityException", "The role with name r cannot be found.")}}
        ),
        "iam",
    )

    with pytest.raises(ClientError) as raised:
        iam.get_role(RoleName="r")

    assert raised.value.response["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The role with name r cannot be found.",
    }
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_unmodelled_error_keeps_its_code_and_status_in_the_query_error_document() -> None:
    message = "User: arn:aws:iam::000000000000:user/u is not authorized to perform: sts:AssumeRole"
    app = gateway({"sts": {"AssumeRole": refusing("AccessDenied", message, 403)}})

    answer = send(
        app,
        build("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s1"}),
    )

    assert answer.status == 403
    root = ElementTree.fromstring(answer.body)
    assert root.tag == f"{STS_NS}ErrorResponse"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Type") == "Sender"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Code") == "AccessDenied"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Message") == message
    assert root.findtext(f"{STS_NS}RequestId") == answer.headers["x-amzn-requestid"]


def test_input_that_breaks_the_model_is_a_validation_error() -> None:
    handler, seen = echo({})
    app = gateway({"sts": {"AssumeRole": handler}})
    params = {"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "no spaces"}

    answer = send(app, build("sts", "AssumeRole", params))

    assert not seen
    assert answer.status == 400
    root = ElementTree.fromstring(answer.body)
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Code") == "ValidationError"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Message") == (
        "1 validation error detected: Value 'no spaces' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


def form(service: str, body: str, secret: str = KEY.secret_access_key) -> AWSPreparedRequest:
    """A form POST with any body, signed for `service`."""
    request = AWSRequest("POST", ENDPOINT + "/", data=body.encode())
    request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    SigV4Auth(Credentials(KEY.access_key_id, secret), service, "us-east-1").add_auth(request)
    prepared: AWSPreparedRequest = request.prepare()
    return prepared


def test_an_unknown_action_is_invalid_and_a_bad_signature_is_refused_in_the_services_namespace() -> None:
    app = gateway({"iam": {}})

    unknown = send(app, form("iam", "Action=MakeCoffee&Version=2010-05-08"))
    forged = send(app, form("iam", "Action=ListRoles&Version=2010-05-08", secret="wrong"))

    assert unknown.status == 400
    assert ElementTree.fromstring(unknown.body).findtext(f"{IAM_NS}Error/{IAM_NS}Code") == "InvalidAction"
    assert forged.status == 403
    assert (
        ElementTree.fromstring(forged.body).findtext(f"{IAM_NS}Error/{IAM_NS}Code") == "SignatureDoesNotMatch"
    )
