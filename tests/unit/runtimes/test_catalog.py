"""Runtimes: which are built, the pinned image of each, the environment, refusals with Lambda's texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambkin.images.manifests import OCI_MANIFEST
from lambkin.runtimes.catalog import BuiltRuntime, RuntimeNotAvailable, Runtimes
from tests.unit.images.catalog_fixtures import Parts, manifest_for, parts  # noqa: F401 (fixture)


async def built_python(tmp_path: Path, parts: Parts) -> tuple[Runtimes, str]:  # noqa: F811
    runtimes = Runtimes(tmp_path, parts.catalog)
    raw = manifest_for(parts.blobs, b"layer")
    digest = await parts.catalog.put_manifest("lambkin-runtimes/python3.11", "k1", raw, OCI_MANIFEST)
    runtimes.record(BuiltRuntime("python3.11", digest, "k1"))
    return runtimes, digest


async def test_a_built_runtime_is_listed_and_pinned_to_its_digest(tmp_path: Path, parts: Parts) -> None:  # noqa: F811
    runtimes, digest = await built_python(tmp_path, parts)
    assert runtimes.names() == ["python3.11"]
    assert await runtimes.image("python3.11") == f"localhost/lambkin-runtimes/python3.11@{digest}"


async def test_a_runtime_not_built_names_the_ones_there(tmp_path: Path, parts: Parts) -> None:  # noqa: F811
    runtimes, _ = await built_python(tmp_path, parts)
    with pytest.raises(RuntimeNotAvailable) as refused:
        await runtimes.image("nodejs20.x")
    assert refused.value.available == ["python3.11"]
    assert refused.value.message == (
        "Value nodejs20.x at 'runtime' failed to satisfy constraint: "
        "Member must satisfy enum value set: [python3.11]"
    )


async def test_a_record_whose_image_left_the_catalog_is_not_available(tmp_path: Path, parts: Parts) -> None:  # noqa: F811
    runtimes, digest = await built_python(tmp_path, parts)
    await parts.catalog.delete_manifest("lambkin-runtimes/python3.11", digest)
    with pytest.raises(RuntimeNotAvailable):
        await runtimes.image("python3.11")


async def test_deprecated_runtimes_get_lambdas_refusal(tmp_path: Path, parts: Parts) -> None:  # noqa: F811
    runtimes = Runtimes(tmp_path, parts.catalog)
    assert runtimes.deprecated("python3.8") and not runtimes.deprecated("python3.13")
    with pytest.raises(RuntimeNotAvailable) as refused:
        await runtimes.image("python3.8")
    assert refused.value.message.startswith(
        "The runtime parameter of python3.8 is no longer supported for creating or updating AWS Lambda functions."
    )


def test_the_environment_is_lambdas(tmp_path: Path, parts: Parts) -> None:  # noqa: F811
    env = Runtimes(tmp_path, parts.catalog).environment("python3.13")
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["PYTHONPATH"].split(":") == [
        "/opt/python/lib/python3.13/site-packages",
        "/opt/python",
        "/var/runtime",
    ]
    node = Runtimes(tmp_path, parts.catalog).environment("nodejs20.x")
    assert "/opt/nodejs/node_modules" in node["NODE_PATH"].split(":")
    assert "AWS_EXECUTION_ENV" not in Runtimes(tmp_path, parts.catalog).environment("provided.al2023")
