"""`lambkin up`'s zip demo: a .zip package on the python3.11 runtime, the runtime built on first use.

The first build takes minutes (debootstrap of Debian 12 with python3.11, then awslambdaric), so the server
serves meanwhile and the build says what it is doing; afterwards the runtime is in the data directory and
its image in the build cache, and the demo is deployed in a second.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

from lambkin import app as composition
from lambkin.cli.demo_clients import deploy_and_invoke, try_it
from lambkin.runtimes.build import Builder, install
from lambkin.runtimes.catalog import RuntimeNotAvailable, Runtimes
from lambkin.runtimes.recipes import RECIPES

ZIP_DEMO_FUNCTION = "demo-zip"
ZIP_DEMO_RUNTIME = "python3.11"
ZIP_DEMO_HANDLER = "app.handler"
ZIP_DEMO_SOURCE = '''"""lambkin's zip demo: returns the event it gets, and the runtime it ran on."""

import os


def handler(event, context):
    return {"event": event, "runtime": os.environ.get("AWS_EXECUTION_ENV")}
'''


def demo_package() -> bytes:
    """The demo's .zip package: app.py, as `zip fn.zip app.py` makes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", ZIP_DEMO_SOURCE)
    return buffer.getvalue()


async def deploy_zip_demo(server: composition.Lambkin, cache_dir: Path) -> None:
    """Builds the demo's runtime unless this data directory has it, then creates (or updates) and invokes
    the function, and prints how to try it."""
    settings = server.settings
    await _runtime(Runtimes(settings.data_dir, server.images.catalog), cache_dir)
    result = await asyncio.to_thread(_create_and_invoke, server)
    print(
        f"lambkin up: function '{ZIP_DEMO_FUNCTION}' ({ZIP_DEMO_RUNTIME}, .zip) answered: {result}",
        flush=True,
    )
    print(
        f"\nTry the zip demo ({ZIP_DEMO_RUNTIME}, handler {ZIP_DEMO_HANDLER}):\n"
        + try_it(settings, ZIP_DEMO_FUNCTION, '{"hello": "zip"}'),
        flush=True,
    )


async def _runtime(runtimes: Runtimes, cache_dir: Path) -> None:
    try:
        await runtimes.image(ZIP_DEMO_RUNTIME)
        return
    except RuntimeNotAvailable:
        pass
    builder = Builder(cache_dir, log=lambda line: print(f"lambkin up: [runtimes] {line}", flush=True))
    if builder.archive_path(RECIPES[ZIP_DEMO_RUNTIME]).exists():
        print(
            f"lambkin up: the {ZIP_DEMO_RUNTIME} runtime: taking it from the build cache {cache_dir}",
            flush=True,
        )
    else:
        print(
            f"lambkin up: building the {ZIP_DEMO_RUNTIME} runtime for the zip demo: the first time takes "
            f"several minutes (Debian 12 with python3.11, then awslambdaric), then it is cached in {cache_dir}; "
            "the server serves meanwhile",
            flush=True,
        )
    built = await install(runtimes, builder, ZIP_DEMO_RUNTIME)
    print(f"lambkin up: the {ZIP_DEMO_RUNTIME} runtime is ready ({built.seconds:.1f} s)", flush=True)


def _create_and_invoke(server: composition.Lambkin) -> str:
    package = demo_package()
    create = {
        "Runtime": ZIP_DEMO_RUNTIME,
        "Handler": ZIP_DEMO_HANDLER,
        "Code": {"ZipFile": package},
        "Description": "lambkin's zip demo: returns the event it gets",
    }
    return deploy_and_invoke(server.settings, ZIP_DEMO_FUNCTION, create, {"ZipFile": package})
