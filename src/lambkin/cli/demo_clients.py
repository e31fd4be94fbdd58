"""Clients of the running server for `lambkin up`'s demos, and the demos' execution role."""

from __future__ import annotations

import json
from typing import Any

from lambkin.config import Settings

DEMO_ROLE = "lambkin-demo"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def client(settings: Settings, service: str) -> Any:
    """A botocore client of the server's `service`, with the account root's key pair."""
    import botocore.session

    return botocore.session.get_session().create_client(
        service,
        region_name=settings.region,
        endpoint_url=settings.endpoint,
        aws_access_key_id=settings.credentials.access_key_id,
        aws_secret_access_key=settings.credentials.secret_access_key,
    )


def demo_role(iam: Any) -> str:
    """The demos' execution role, made as a user makes one: a trust policy that lets Lambda assume it, and
    AWSLambdaBasicExecutionRole attached. Kept if it is there from an earlier run."""
    try:
        return str(iam.get_role(RoleName=DEMO_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    created = iam.create_role(RoleName=DEMO_ROLE, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY))
    iam.attach_role_policy(RoleName=DEMO_ROLE, PolicyArn=BASIC_EXECUTION)
    print(f"lambkin up: created the role {DEMO_ROLE} for the demo functions", flush=True)
    return str(created["Role"]["Arn"])


def deploy_and_invoke(settings: Settings, name: str, create: dict[str, Any], update: dict[str, Any]) -> str:
    """Creates demo function `name` (`create`: CreateFunction's other members), or updates its code
    (`update`: UpdateFunctionCode's) when it is there from an earlier run; waits until it is active and
    returns what one invoke answers."""
    lam = client(settings, "lambda")
    create = {"Role": demo_role(client(settings, "iam")), **create}
    try:
        lam.create_function(FunctionName=name, **create)
    except lam.exceptions.ResourceConflictException:
        lam.update_function_code(FunctionName=name, **update)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"hello": "lambkin"}).encode())
    body: bytes = response["Payload"].read()
    return body.decode(errors="replace")


def try_it(settings: Settings, function: str, payload: str) -> str:
    """The lines `lambkin up` prints so a user can invoke `function` with the AWS CLI and read its logs."""
    creds = settings.credentials
    endpoint = settings.endpoint
    return (
        f"  export AWS_ACCESS_KEY_ID={creds.access_key_id} AWS_SECRET_ACCESS_KEY={creds.secret_access_key}"
        f" AWS_DEFAULT_REGION={settings.region}\n"
        f"  .venv/bin/aws lambda invoke --endpoint-url {endpoint} --function-name {function}"
        f" --payload '{payload}' /dev/stdout\n"
        "  (AWS CLI v2 also wants --cli-binary-format raw-in-base64-out)\n"
        f"  .venv/bin/lambkin logs {function} --endpoint-url {endpoint} --data-dir {settings.data_dir}\n"
    )
