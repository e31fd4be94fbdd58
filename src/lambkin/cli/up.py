"""`lambkin up`: the server plus demo functions deployed the way a user would deploy them: an image, and a
.zip package on a managed runtime (cli/zip_demo.py)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from lambkin import app as composition
from lambkin.cli.demo_clients import deploy_and_invoke, try_it
from lambkin.cli.runtimes import runtimes_cache
from lambkin.cli.server import add_server_arguments, serve
from lambkin.cli.zip_demo import ZIP_DEMO_RUNTIME, deploy_zip_demo
from lambkin.config import command_defaults
from lambkin.loop_cpu import unpinned

DEMO_FUNCTION = "demo"
DEMO_REPOSITORY = "demo"


def register(commands: Any) -> None:
    cmd = commands.add_parser("up", help="run the server and deploy demo functions (an image, and a .zip)")
    add_server_arguments(cmd)
    cmd.add_argument(
        "--demo-image",
        type=Path,
        default=command_defaults().demo_image,
        help="an oci-archive of a Lambda image to deploy as the function 'demo'",
    )
    cmd.add_argument(
        "--zip-demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"deploy the function 'demo-zip', a .zip package on the {ZIP_DEMO_RUNTIME} runtime, built on "
        "first use (several minutes the first time; the server serves meanwhile); default: yes",
    )
    cmd.add_argument(
        "--runtimes-cache",
        type=Path,
        default=runtimes_cache(),
        help="where built runtimes are cached (as `lambkin runtimes build --cache-dir`); default: "
        "$LAMBKIN_RUNTIMES_CACHE, else DATA_DIR/runtimes/cache",
    )
    cmd.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace) -> int:
    image = Path(args.demo_image) if args.demo_image is not None else None
    if image is None or not image.is_file():
        missing = "no --demo-image given" if image is None else f"no demo image at {image}"
        print(f"lambkin up: {missing}; no image demo function", flush=True)
        image = None
    if image is None and not args.zip_demo:
        return serve(args)
    cache_dir = args.runtimes_cache or args.data_dir.resolve() / "runtimes" / "cache"

    async def deploy(server: composition.Lambkin) -> None:
        # the server keeps serving whatever happens here; a demo's failure is reported, not fatal
        if image is not None:
            try:
                await _deploy(server, image)
            except Exception as exc:
                print(f"lambkin up: the demo could not be deployed: {exc}", flush=True)
        if args.zip_demo:
            try:
                await deploy_zip_demo(server, cache_dir)
            except Exception as exc:
                print(f"lambkin up: the zip demo could not be deployed: {exc}", flush=True)

    return serve(args, deploy)


async def _deploy(server: composition.Lambkin, archive: Path) -> None:
    settings = server.settings
    creds = settings.credentials
    image_uri = f"{settings.host}:{settings.port}/{DEMO_REPOSITORY}:latest"
    with unpinned():  # skopeo on every CPU, not the event loop's alone
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
    print("\nTry it:\n" + try_it(settings, DEMO_FUNCTION, '{"hello": "world"}'), flush=True)


def _create_and_invoke(server: composition.Lambkin, image_uri: str) -> str:
    create = {
        "PackageType": "Image",
        "Code": {"ImageUri": image_uri},
        "Description": "lambkin's demo: returns the event it gets",
    }
    return deploy_and_invoke(server.settings, DEMO_FUNCTION, create, {"ImageUri": image_uri})
