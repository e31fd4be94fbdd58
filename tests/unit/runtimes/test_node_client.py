"""aws-lambda-ric for the Node.js runtimes: built in a tree with compilers, only the client in the runtime."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lambkin.runtimes import build, node_client
from lambkin.runtimes.build import debootstrap_key
from lambkin.runtimes.recipes import AWS_SDK, AWS_SDK_VERSION, NODE_BUILDER_PACKAGES, RECIPES
from lambkin.runtimes.rootfs import BuildFailed


def test_the_builder_tree_is_the_runtimes_suite_with_compilers() -> None:
    node = RECIPES["nodejs18.x"]
    builder = node_client.builder_recipe(node)

    assert (builder.suite, builder.version, builder.packages) == ("bookworm", "18", NODE_BUILDER_PACKAGES)
    assert {"nodejs", "libnode-dev", "g++", "cmake", "python3"} <= set(builder.packages)
    assert debootstrap_key(builder) != debootstrap_key(node)
    with pytest.raises(BuildFailed, match=r"only Node\.js runtimes"):
        node_client.builder_recipe(RECIPES["python3.11"])


def test_a_compiled_client_is_kept_until_the_builder_trees_packages_change(tmp_path: Path) -> None:
    tree = tmp_path / "builder"
    (tree / "var/lib/dpkg").mkdir(parents=True)
    (tree / "var/lib/dpkg/status").write_text("Package: nodejs\nVersion: 20.19.2+dfsg-1\n")
    first = node_client.client_key(tree)
    kept = tmp_path / "clients" / f"nodejs20.x-{first}"
    (kept / "dist").mkdir(parents=True)
    (kept / node_client.ADDON).write_bytes(b"\x7fELF")

    found = node_client.compiled_client(RECIPES["nodejs20.x"], tree, tmp_path / "clients", tmp_path, print)

    assert found == kept
    (tree / "var/lib/dpkg/status").write_text("Package: nodejs\nVersion: 20.19.5+dfsg-1\n")
    assert node_client.client_key(tree) != first


def test_a_fetched_sdk_is_kept_for_every_node_runtime(tmp_path: Path) -> None:
    kept = tmp_path / "clients" / f"aws-sdk-{node_client.sdk_key()}"
    (kept / "@aws-sdk/client-sqs").mkdir(parents=True)

    assert node_client.fetched_sdk(tmp_path / "clients", tmp_path, print) == kept


def test_only_the_client_and_the_sdk_go_into_the_runtime_readable_by_all(tmp_path: Path) -> None:
    previous = os.umask(0o077)  # the CLI builds under the server's private umask
    try:
        sdk = tmp_path / "sdk"
        (sdk / "@aws-sdk/client-sqs").mkdir(parents=True)
        (sdk / "@aws-sdk/client-sqs/package.json").write_text("{}")
        node_client.install(compiled(tmp_path / "client"), sdk, tmp_path / "root")
    finally:
        os.umask(previous)

    installed = tmp_path / "root/var/runtime/node_modules"
    assert sorted(path.name for path in installed.iterdir()) == ["@aws-sdk", "aws-lambda-ric"]
    assert (installed / "aws-lambda-ric" / node_client.ADDON).read_bytes() == b"\x7fELF"
    for path in (
        installed,
        installed / "aws-lambda-ric",
        installed / "aws-lambda-ric/dist",
        installed / "@aws-sdk",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    for name in ("aws-lambda-ric/package.json", "@aws-sdk/client-sqs/package.json"):
        assert stat.S_IMODE((installed / name).stat().st_mode) == 0o644
    entry = (tmp_path / "root/var/runtime/index.mjs").read_text()
    assert "/var/runtime/node_modules/aws-lambda-ric/dist/index.mjs" in entry
    assert 'register("./node-path.mjs", import.meta.url)' in entry
    hook = tmp_path / "root/var/runtime" / node_client.NODE_PATH_HOOK
    assert "export async function resolve" in hook.read_text()
    assert stat.S_IMODE(hook.stat().st_mode) == 0o644


def test_the_sdk_is_one_pinned_release_and_part_of_the_recipe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {package.rsplit("@", 1)[0] for package in AWS_SDK}
    assert {package.rsplit("@", 1)[1] for package in AWS_SDK} == {AWS_SDK_VERSION}
    assert {"@aws-sdk/client-sqs", "@aws-sdk/client-lambda", "@aws-sdk/lib-dynamodb"} <= names
    before = build.recipe_key(RECIPES["nodejs18.x"])

    monkeypatch.setattr(build, "AWS_SDK", tuple(f"{name}@3.966.0" for name in sorted(names)))

    assert build.recipe_key(RECIPES["nodejs18.x"]) != before


def compiled(client: Path) -> Path:
    """A stand-in for a compiled client, made under the current umask."""
    (client / "dist").mkdir(parents=True)
    (client / node_client.ADDON).write_bytes(b"\x7fELF")
    (client / "package.json").write_text("{}")
    return client
