"""A sandbox's root filesystem's top layer: the skeleton over the image's layers (overlay.py mounts them).

The skeleton, top-most, guarantees what runc needs and cannot create in a read-only root: mount points
(/proc, /dev, /sys, /tmp), an /etc/hosts naming localhost and an /etc/resolv.conf naming lambkin's DNS
forwarder on the sandbox's own loopback (network/dns.py; with no network, nothing answers there). It also makes two lower layers at least, which
an overlay without an upper directory requires. When the host has a static init (tini), the skeleton carries
it at INIT_PATH, so the function's runtime is not PID 1 (to which the kernel delivers no default-action signal,
so a runtime that kills itself would not die) and its zombies are reaped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

_SKELETON_DIRS = {"proc": 0o555, "dev": 0o755, "sys": 0o555, "tmp": 0o1777, "etc": 0o755}
INIT_PATH = "/.lambkin/init"
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_RESOLV_CONF = "nameserver 127.0.0.1\n"


def ensure_skeleton(path: Path, init: Path | None = None) -> Path:
    """Creates the skeleton layer at `path` once, with `init` at INIT_PATH; cheap when it exists."""
    if (path / "etc" / "hosts").exists():
        _install_file(path / "etc" / "resolv.conf", _RESOLV_CONF)  # skeletons made before it had one
        if init is not None:
            _install_init(path, init)
        return path
    staging = path.with_name(
        f"{path.name}.{uuid.uuid4().hex}.tmp"
    )  # concurrent cold starts each stage their own
    for name, mode in _SKELETON_DIRS.items():
        (staging / name).mkdir(parents=True, exist_ok=True)
        os.chmod(staging / name, mode)
    (staging / "etc" / "hosts").write_text(_HOSTS)
    os.chmod(staging / "etc" / "hosts", 0o644)  # the server's umask is 077; the sandbox's user reads it
    _install_file(staging / "etc" / "resolv.conf", _RESOLV_CONF)
    if init is not None:
        _install_init(staging, init)
    os.chmod(staging, 0o755)
    try:
        staging.rename(path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another cold start created it first
        if not (path / "etc" / "hosts").exists():
            raise
    return path


def _install_init(skeleton: Path, init: Path) -> None:
    target = skeleton / INIT_PATH.lstrip("/")
    if target.exists():
        return
    target.parent.mkdir(exist_ok=True)
    os.chmod(target.parent, 0o755)  # whatever the server's umask: the sandbox's user runs the init
    staged = target.with_name(f".init.{uuid.uuid4().hex}.tmp")
    shutil.copyfile(init, staged)
    os.chmod(staged, 0o755)
    os.replace(staged, target)


def _install_file(target: Path, text: str) -> None:
    if target.exists():
        return
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    staged.write_text(text)
    os.chmod(staged, 0o644)
    os.replace(staged, target)
