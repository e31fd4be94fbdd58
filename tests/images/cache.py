"""Where the test-image toolchain keeps its outputs, how it keys them by their inputs, and its build lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent
LAYERS = PACKAGE / "layers"
CACHE = Path(os.environ.get("LAMBKIN_IMAGES_CACHE", REPO / ".cache" / "images"))
BIN = Path(os.environ.get("LAMBKIN_BIN_CACHE", REPO / ".cache" / "bin"))

ROOTFS = CACHE / "rootfs"  # assembled root filesystems, one directory per base or image
ARCHIVES = CACHE / "archives"  # one oci-archive tar per image
LAYOUT = CACHE / "oci"  # one OCI layout holding every image, blobs shared
STAMPS = CACHE / "stamps"  # what was built from which inputs
DOWNLOADS = CACHE / "downloads"  # wheels from PyPI
WORK = CACHE / "work"  # scratch space of builds in progress
BUILDAH_ROOT = CACHE / "buildah"  # private containers-storage, so no other user's buildah is disturbed


class Hasher:
    """A sha256 over named inputs: strings, JSON values, files and directory trees."""

    def __init__(self, kind: str) -> None:
        self._sha = hashlib.sha256(kind.encode())

    def text(self, name: str, value: str) -> Hasher:
        self._feed(name, value.encode())
        return self

    def json(self, name: str, value: Any) -> Hasher:
        return self.text(name, json.dumps(value, sort_keys=True))

    def file(self, name: str, path: Path) -> Hasher:
        mode = stat.S_IMODE(path.stat().st_mode)
        self._feed(name, f"{mode:o}".encode() + b"\0" + path.read_bytes())
        return self

    def tree(self, name: str, root: Path) -> Hasher:
        for path in sorted(walk(root)):
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                self.text(f"{name}/{relative}@", os.readlink(path))
            elif path.is_file():
                self.file(f"{name}/{relative}", path)
        return self

    def hexdigest(self, length: int = 16) -> str:
        return self._sha.hexdigest()[:length]

    def _feed(self, name: str, data: bytes) -> None:
        self._sha.update(f"{name}\0{len(data)}\0".encode())
        self._sha.update(data)


def walk(root: Path) -> Iterable[Path]:
    """Every file and symlink under root, skipping Python bytecode caches."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for filename in filenames:
            yield Path(directory) / filename


def read_stamp(name: str) -> dict[str, Any] | None:
    path = STAMPS / f"{name}.json"
    try:
        stamp: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stamp


def write_stamp(name: str, stamp: dict[str, Any]) -> None:
    STAMPS.mkdir(parents=True, exist_ok=True)
    temporary = STAMPS / f".{name}.json.tmp"
    temporary.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    temporary.replace(STAMPS / f"{name}.json")


def is_fresh(name: str, key: str, *outputs: Path) -> bool:
    """Whether `name` was built from inputs hashing to `key` and its outputs are still there."""
    stamp = read_stamp(name)
    return stamp is not None and stamp.get("key") == key and all(path.exists() for path in outputs)


STALE_GRACE_SECONDS = (
    3600.0  # outputs replaced by a rebuild stay this long: a running test may still use them
)


def remove_if_stale(path: Path) -> None:
    """Removes an output that a rebuild replaced, once it is older than the grace period."""
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return
    if age > STALE_GRACE_SECONDS:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Removes a file, symlink, device node or directory tree; nothing if absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()


@contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time on this machine: other test runs wait here, then find the cache filled."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "build.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
