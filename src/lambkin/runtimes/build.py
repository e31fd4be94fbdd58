"""Builds a runtime's image once (cached by the hash of its recipe) and puts it into lambkin's catalog."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lambkin.images.archive import import_archive
from lambkin.runtimes import node_client, rootfs
from lambkin.runtimes.catalog import REPOSITORY_PREFIX, BuiltRuntime, Runtimes
from lambkin.runtimes.recipes import (
    AWS_LAMBDA_RIC,
    AWS_SDK,
    AWS_SDK_BEFORE,
    AWSLAMBDARIC,
    BOOTSTRAP,
    BOTO3,
    NODE_GYP,
    RECIPES,
    TASK_ROOT,
    Language,
    Recipe,
)
from lambkin.runtimes.rootfs import BuildFailed, Log, run

SOURCES = tuple(
    rootfs.BOOTSTRAPS.parent / name for name in ("build.py", "rootfs.py", "recipes.py", "node_client.py")
)


def recipe_key(recipe: Recipe) -> str:
    """A hash of all that decides the image: the recipe, the clients' and the AWS SDKs' versions (and the date
    the Node.js SDK's dependencies are resolved at), this builder's sources."""
    pins = [repr(recipe), AWSLAMBDARIC, BOTO3, AWS_LAMBDA_RIC, NODE_GYP, AWS_SDK, AWS_SDK_BEFORE]
    sha = hashlib.sha256(json.dumps(pins).encode())
    for source in (*SOURCES, *sorted(rootfs.BOOTSTRAPS.iterdir())):
        sha.update(source.name.encode() + b"\0" + source.read_bytes())
    return sha.hexdigest()[:16]


def debootstrap_key(recipe: Recipe) -> str:
    return hashlib.sha256(json.dumps([recipe.suite, recipe.packages]).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Built:
    runtime: BuiltRuntime
    seconds: float
    cached: bool  # the image archive was already in the build cache


class Builder:
    """Runtime images under `cache_dir`: debootstrap trees (kept, so a change after them does not fetch
    again), oci-archives by recipe key, buildah's private storage, scratch space."""

    def __init__(self, cache_dir: Path, log: Log = print) -> None:
        self.cache_dir = cache_dir
        self.log = log

    def archive_path(self, recipe: Recipe) -> Path:
        return self.cache_dir / "archives" / f"{recipe.name}-{recipe_key(recipe)}.tar"

    def archive(self, recipe: Recipe, fresh: bool = False) -> Path:
        """The runtime's oci-archive, built unless cached; `fresh` builds it again from today's packages.
        A Node.js runtime gets the client compiled for its node and the AWS SDK for JavaScript (both kept
        under `clients/`, the SDK shared by every Node.js runtime)."""
        target = self.archive_path(recipe)
        if target.exists() and not fresh:
            return target
        with self._lock():
            if target.exists() and not fresh:
                return target
            work = self.cache_dir / "work"
            rootfs.remove_tree(work)
            work.mkdir(parents=True)
            tree = self._debootstrapped(recipe, work, fresh)
            scratch = work / recipe.name
            run("cp", "-a", tree, scratch)
            rootfs.check_language(recipe, scratch)
            rootfs.strip(scratch)
            rootfs.install_client(recipe, scratch, self.cache_dir / "downloads", self.log)
            if recipe.language is Language.NODE:
                builder = self._debootstrapped(node_client.builder_recipe(recipe), work, fresh)
                rootfs.check_language(recipe, builder)
                clients = self.cache_dir / "clients"
                client = node_client.compiled_client(recipe, builder, clients, work, self.log)
                sdk = node_client.fetched_sdk(clients, work, self.log)
                node_client.install(client, sdk, scratch)
                node_client.check_loads(recipe, scratch)
            rootfs.finish_tree(scratch)
            self._commit(recipe, scratch, target)
            for stale in target.parent.glob(f"{recipe.name}-*.tar"):
                if stale != target:
                    stale.unlink()
            rootfs.remove_tree(work)
        return target

    def _debootstrapped(self, recipe: Recipe, work: Path, fresh: bool) -> Path:
        """The debootstrap tree of the recipe's suite and packages, made unless kept (or `fresh`)."""
        tree = self.cache_dir / "debootstrap" / f"{recipe.suite}-{debootstrap_key(recipe)}"
        if fresh or not (tree / "var/lib/dpkg/status").exists():
            rootfs.debootstrap(recipe, tree, work, self.log)
        return tree

    def _commit(self, recipe: Recipe, tree: Path, target: Path) -> None:
        """The tree as one layer, with Lambda's entrypoint and environment, written as an oci-archive."""
        buildah = [
            "buildah", "--root", str(self.cache_dir / "buildah/storage"),
            "--runroot", str(self.cache_dir / "buildah/run"), "--storage-driver", "overlay",
        ]  # fmt: skip
        self.log(f"{recipe.name}: committing the image with buildah")
        container = run(*buildah, "from", "--quiet", "scratch").strip().splitlines()[-1]
        image = f"localhost/{REPOSITORY_PREFIX}{recipe.name}:{recipe_key(recipe)}"
        try:
            mountpoint = run(*buildah, "mount", container).strip()
            subprocess.run(["cp", "-a", f"{tree}/.", f"{mountpoint}/"], check=True)
            run(*buildah, "umount", container)
            config = ["config", "--os", "linux", "--arch", "amd64", "--workingdir", TASK_ROOT]
            config += ["--entrypoint", json.dumps([BOOTSTRAP]), "--cmd", "[]"]
            for name, value in recipe.environment().items():
                config += ["--env", f"{name}={value}"]
            run(*buildah, *config, container)
            run(*buildah, "commit", "--quiet", "--rm", "--format", "oci", container, image)
        except BaseException:
            subprocess.run([*buildah, "rm", container], capture_output=True, check=False)
            raise
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.unlink(missing_ok=True)
        try:
            run(*buildah, "push", "--quiet", image, f"oci-archive:{temporary}:{recipe.name}")
            temporary.replace(target)
        finally:
            subprocess.run([*buildah, "rmi", image], capture_output=True, check=False)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One build at a time per cache: a second one waits, then finds the archive there."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with (self.cache_dir / "build.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


async def install(runtimes: Runtimes, builder: Builder, name: str, fresh: bool = False) -> Built:
    """Builds `name` (unless cached), imports its image into the catalog, and records it as built there."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise BuildFailed(f"no runtime named {name!r}; lambkin builds {', '.join(RECIPES)}")
    started = time.monotonic()
    cached = builder.archive_path(recipe).exists() and not fresh
    archive = await asyncio.to_thread(builder.archive, recipe, fresh)
    key = recipe_key(recipe)
    imported = await import_archive(archive, runtimes.catalog, tag=f"{REPOSITORY_PREFIX}{name}:{key}")
    built = BuiltRuntime(name, imported[0].digest, key)
    runtimes.record(built)
    return Built(built, time.monotonic() - started, cached)
