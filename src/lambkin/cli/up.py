"""`lambkin up`: the server plus a demo function deployed the way a user would deploy one."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from lambkin import app as composition
from lambkin.cli.server import add_server_arguments, serve
from lambkin.config import Settings, command_defaults

DEMO_FUNCTION = "demo"
DEMO_REPOSITORY = "demo"
DEMO_ROLE = "lambkin-demo"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def register(commands: Any) -> None:
    cmd = commands.add_parser("up", help="run the server and deploy a demo function")
    add_server_arguments(cmd)
    cmd.add_argument(
        "--demo-image",
        type=Path,
        default=command_defaults().demo_image,
        help="an oci-archive of a Lambda image to deploy as the function 'demo'",
    )
    cmd.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace) -> int:
    if args.demo_image is None or not Path(args.demo_image).is_file():
        print(
            f"lambkin up: no demo image at {args.demo_image!r}; serving without a demo function", flush=True
        )
        return serve(args)

    async def deploy(server: composition.Lambkin) -> None:
        try:
            await _deploy(server, Path(args.demo_image))
        except Exception as exc:  # the server keeps serving; the demo's failure is reported, not fatal
            print(f"lambkin up: the demo could not be deployed: {exc}", flush=True)

    return serve(args, deploy)


async def _deploy(server: composition.Lambkin, archive: Path) -> None:
    settings = server.settings
    creds = settings.credentials
    image_uri = f"{settings.host}:{settings.port}/{DEMO_REPOSITORY}:latest"
    push = await asyncio.create_subprocess_exec(
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"{creds.access_key_id}:{creds.secret_access_key}",
        f"oci-archive:{archive}",
        f"docker://{image_uri}",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await push.communicate()
    if push.returncode != 0:
        raise RuntimeError(f"skopeo copy failed: {err.decode(errors='replace').strip()}")
    print(f"lambkin up: pushed {archive.name} to {image_uri}", flush=True)
    result = await asyncio.to_thread(_create_and_invoke, server, image_uri)
    print(f"lambkin up: function '{DEMO_FUNCTION}' answered: {result}", flush=True)
    endpoint = settings.endpoint
    print(
        "\nTry it:\n"
        f"  export AWS_ACCESS_KEY_ID={creds.access_key_id} AWS_SECRET_ACCESS_KEY={creds.secret_access_key}"
        f" AWS_DEFAULT_REGION={settings.region}\n"
        f"  .venv/bin/aws lambda invoke --endpoint-url {endpoint} --function-name {DEMO_FUNCTION}"
        ' --payload \'{"hello": "world"}\' /dev/stdout\n'
        "  (AWS CLI v2 also wants --cli-binary-format raw-in-base64-out)\n"
        f"  .venv/bin/lambkin logs {DEMO_FUNCTION} --endpoint-url {endpoint} --data-dir {settings.data_dir}\n",
        flush=True,
    )


def _create_and_invoke(server: composition.Lambkin, image_uri: str) -> str:
    settings = server.settings
    role = _demo_role(_client(settings, "iam"))
    client = _client(settings, "lambda")
    try:
        client.create_function(
            FunctionName=DEMO_FUNCTION,
            PackageType="Image",
            Code={"ImageUri": image_uri},
            Role=role,
            Description="lambkin's demo: returns the event it gets",
        )
    except client.exceptions.ResourceConflictException:
        client.update_function_code(FunctionName=DEMO_FUNCTION, ImageUri=image_uri)
        client.get_waiter("function_updated_v2").wait(FunctionName=DEMO_FUNCTION)
    client.get_waiter("function_active_v2").wait(FunctionName=DEMO_FUNCTION, WaiterConfig={"Delay": 1})
    response = client.invoke(FunctionName=DEMO_FUNCTION, Payload=json.dumps({"hello": "lambkin"}).encode())
    body: bytes = response["Payload"].read()
    return body.decode(errors="replace")


def _client(settings: Settings, service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        service,
        region_name=settings.region,
        endpoint_url=settings.endpoint,
        aws_access_key_id=settings.credentials.access_key_id,
        aws_secret_access_key=settings.credentials.secret_access_key,
    )


def _demo_role(iam: Any) -> str:
    """The demo's execution role, made as a user makes one: a trust policy that lets Lambda assume it, and
    AWSLambdaBasicExecutionRole attached. Kept if it is there from an earlier run."""
    try:
        return str(iam.get_role(RoleName=DEMO_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    created = iam.create_role(RoleName=DEMO_ROLE, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY))
    iam.attach_role_policy(RoleName=DEMO_ROLE, PolicyArn=BASIC_EXECUTION)
    print(f"lambkin up: created the role {DEMO_ROLE} for the demo function", flush=True)
    return str(created["Role"]["Arn"])
