"""Builds the catalogue's images with buildah, each only when its inputs changed, into archives and one layout."""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.images import cache, rootfs
from tests.images.buildah import Buildah, skopeo
from tests.images.cache import Hasher
from tests.images.rootfs import log
from tests.images.specs import IMAGES, RIE, Base, ImageSpec

REPOSITORY = "localhost/lambkin-test"
RIE_BINARY = cache.BIN / "aws-lambda-rie"

_BASES: dict[Base, tuple[Callable[[], str], Callable[[Path], None]]] = {
    Base.PYTHON: (rootfs.python_base_key, rootfs.build_python_base),
    Base.BUSYBOX: (rootfs.busybox_base_key, rootfs.build_busybox_base),
}


def base_key(base: Base) -> str:
    return _BASES[base][0]()


def image_key(spec: ImageSpec) -> str:
    hasher = Hasher("image").text("base", base_key(spec.base)).text("spec", repr(spec))
    hasher.file("build.py", Path(__file__)).file("buildah.py", Path(__file__).with_name("buildah.py"))
    for layer in spec.layer_dirs():
        hasher.tree(_layer_name(Path(layer)), Path(layer))
    if spec.with_rie:
        hasher.text("rie", rootfs.rie_key())
    return hasher.hexdigest()


def _layer_name(layer: Path) -> str:
    """A layer's name in the key, relative to where it lives: the same key in any checkout of the tree."""
    for root in (cache.PACKAGE, cache.CACHE):
        if layer.is_relative_to(root):
            return layer.relative_to(root).as_posix()
    return layer.as_posix()


def archive_path(name: str) -> Path:
    return cache.ARCHIVES / f"{name}.tar"


def layer_path(name: str) -> Path:
    """The top layer's files of an image, as a tree (kept to assemble rootfs_dir)."""
    return cache.ROOTFS / "layers" / name


def is_built(name: str) -> bool:
    spec = IMAGES[name]
    return cache.is_fresh(name, image_key(spec), archive_path(name), layer_path(name))


def ensure_rie() -> Path:
    key = rootfs.rie_key()
    if not cache.is_fresh("aws-lambda-rie", key, RIE_BINARY):
        rootfs.build_rie(RIE_BINARY)
        cache.write_stamp("aws-lambda-rie", {"key": key, "path": str(RIE_BINARY)})
    return RIE_BINARY


def ensure_base_rootfs(base: Base) -> Path:
    key, builder = base_key(base), _BASES[base][1]
    target = cache.ROOTFS / f"{base.value}-{key}"
    if not cache.is_fresh(base.value, key, target):
        builder(target)
        cache.write_stamp(base.value, {"key": key, "rootfs": str(target)})
        remove_stale_rootfs(base.value, keep=target)
    return target


def ensure_base_image(buildah: Buildah, base: Base) -> str:
    """The base rootfs committed once as one layer, shared by every image built on it."""
    rootfs_dir = ensure_base_rootfs(base)
    image = f"{REPOSITORY}/{base.value}:{base_key(base)}"
    if buildah.exists(image):
        return image
    started = time.monotonic()
    log(f"committing {base.value} as the shared bottom layer")
    container = buildah.from_scratch()
    try:
        mountpoint = buildah.mount(container)
        subprocess.run(["cp", "-a", f"{rootfs_dir}/.", f"{mountpoint}/"], check=True)
        buildah.umount(container)
        buildah.commit(container, image)
    except BaseException:
        buildah.remove_container(container)
        raise
    for old in buildah.images(f"{REPOSITORY}/{base.value}"):
        if old != image:
            buildah.remove_image(old)
    log(f"{base.value} committed in {time.monotonic() - started:.1f} s")
    return image


def stage_layer(spec: ImageSpec) -> Path:
    """Assembles the top layer's files: the layer trees, compiled bytecode (the root is read-only), the RIE."""
    stage = cache.WORK / f"layer-{spec.name}"
    cache.remove_tree(stage)
    stage.mkdir(parents=True)
    for layer in spec.layer_dirs():
        shutil.copytree(layer, stage, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    if spec.with_rie:
        (stage / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ensure_rie(), stage / RIE.lstrip("/"))
    # unchecked-hash bytecode stays valid whatever mtimes the copy leaves, and the root is read-only
    compileall.compile_dir(stage, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    for directory, _dirnames, filenames in os.walk(stage):
        Path(directory).chmod(0o755)
        for filename in filenames:
            path = Path(directory) / filename
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
    return stage


def build_image(buildah: Buildah, spec: ImageSpec, key: str) -> None:
    started = time.monotonic()
    base_image = ensure_base_image(buildah, spec.base)
    stage = stage_layer(spec)
    image = f"{REPOSITORY}/{spec.name}:{key}"
    container = buildah.from_image(base_image)
    try:
        buildah.copy(container, stage, "/")
        buildah.config(
            container, entrypoint=spec.entrypoint, cmd=spec.cmd, workdir=spec.workdir, env=spec.env
        )
        buildah.commit(container, image)
    except BaseException:
        buildah.remove_container(container)
        raise
    cache.LAYOUT.mkdir(parents=True, exist_ok=True)
    buildah.push(image, f"oci:{cache.LAYOUT}:{spec.name}")
    cache.ARCHIVES.mkdir(parents=True, exist_ok=True)
    archive = archive_path(spec.name)
    temporary = archive.with_name(f".{archive.name}.tmp")
    temporary.unlink(missing_ok=True)
    skopeo("copy", "--quiet", f"oci:{cache.LAYOUT}:{spec.name}", f"oci-archive:{temporary}:{spec.name}")
    temporary.replace(archive)
    layers = layer_path(spec.name)
    cache.remove_tree(layers)
    layers.parent.mkdir(parents=True, exist_ok=True)
    stage.rename(layers)
    for old in buildah.images(f"{REPOSITORY}/{spec.name}"):
        if old != image:
            buildah.remove_image(old)
    cache.write_stamp(
        spec.name,
        {"key": key, "archive": str(archive), "image": image, "digest": layout_digest(spec.name)},
    )
    size = archive.stat().st_size / 1e6
    log(f"{spec.name}: built in {time.monotonic() - started:.1f} s -> {archive} ({size:.1f} MB)")


def build(names: Iterable[str] | None = None) -> dict[str, Path]:
    """Builds what is missing or stale (all images by default); quick when everything is cached."""
    wanted = list(IMAGES) if names is None else list(names)
    for name in wanted:
        if name not in IMAGES:
            raise KeyError(f"no test image named {name!r}; known: {', '.join(IMAGES)}")
    stale = [name for name in wanted if not is_built(name)]
    if stale:
        with cache.build_lock():
            cache.remove_tree(cache.WORK)  # what an interrupted build left
            cache.WORK.mkdir(parents=True)
            buildah = Buildah()
            buildah.remove_all_containers()
            for name in stale:
                key = image_key(IMAGES[name])
                if not cache.is_fresh(name, key, archive_path(name), layer_path(name)):
                    log(f"{name}: building (key {key})")
                    build_image(buildah, IMAGES[name], key)
            collect_layout_garbage()
    if any(IMAGES[name].with_rie for name in wanted):
        ensure_rie()
    return {name: archive_path(name) for name in wanted}


def layout_index() -> dict[str, str]:
    """Image name -> manifest digest, as recorded in the shared OCI layout's index.json."""
    try:
        index = json.loads((cache.LAYOUT / "index.json").read_text())
    except (OSError, ValueError):
        return {}
    refs: dict[str, str] = {}
    for manifest in index.get("manifests", []):
        name = manifest.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if name:
            refs[name] = manifest["digest"]
    return refs


def layout_digest(name: str) -> str:
    return layout_index()[name]


def collect_layout_garbage() -> None:
    """Deletes blobs of the shared layout that no tagged manifest refers to any more."""
    blobs = cache.LAYOUT / "blobs" / "sha256"
    if not blobs.is_dir():
        return
    keep: set[str] = set()
    for digest in layout_index().values():
        keep.add(digest)
        manifest = json.loads((blobs / digest.removeprefix("sha256:")).read_bytes())
        keep.add(manifest["config"]["digest"])
        keep.update(layer["digest"] for layer in manifest["layers"])
    for blob in blobs.iterdir():
        if f"sha256:{blob.name}" not in keep:
            cache.remove_if_stale(blob)


def assemble_rootfs(name: str) -> Path:
    """A plain directory with the image's whole root filesystem: the base hard-linked, the top layer copied."""
    build([name])
    spec = IMAGES[name]
    key = image_key(spec)
    target = cache.ROOTFS / f"{name}-{key}"
    stamp_name = f"rootfs-{name}"
    if cache.is_fresh(stamp_name, key, target):
        return target
    with cache.build_lock():
        if cache.is_fresh(stamp_name, key, target):
            return target
        base = ensure_base_rootfs(spec.base)
        scratch = cache.WORK / f"rootfs-{name}.tmp"
        cache.remove_tree(scratch)
        scratch.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(base), str(scratch)], check=True)
        # --remove-destination: never write through a hard link into the shared base
        subprocess.run(
            ["cp", "-a", "--remove-destination", f"{layer_path(name)}/.", f"{scratch}/"], check=True
        )
        remove_stale_rootfs(name, keep=target)
        cache.remove_tree(target)
        scratch.rename(target)
        os.utime(target)  # its age tells remove_if_stale when it may go
        cache.write_stamp(stamp_name, {"key": key, "rootfs": str(target)})
    return target


def docker_archive(name: str) -> Path:
    """The image as a `docker save` archive (uncompressed layers), made from the OCI one on first use."""
    build([name])
    key = image_key(IMAGES[name])
    target = cache.ARCHIVES / f"{name}.docker.tar"
    stamp_name = f"docker-archive-{name}"
    if cache.is_fresh(stamp_name, key, target):
        return target
    with cache.build_lock():
        if not cache.is_fresh(stamp_name, key, target):
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.unlink(missing_ok=True)
            skopeo(
                "copy", "--quiet", f"oci:{cache.LAYOUT}:{name}", f"docker-archive:{temporary}:{name}:latest"
            )
            temporary.replace(target)
            cache.write_stamp(stamp_name, {"key": key, "archive": str(target)})
    return target


def remove_stale_rootfs(name: str, keep: Path) -> None:
    """Removes rootfs directories of `name` built from older inputs (`name-<key>`, not `name-rie-<key>`)."""
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{16}")
    for path in cache.ROOTFS.iterdir():
        if pattern.fullmatch(path.name) and path != keep:
            cache.remove_if_stale(path)
