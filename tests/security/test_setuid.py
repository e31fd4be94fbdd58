"""An image's setuid-root file or file capability never becomes a privileged file on the host."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lambkin.images.unpack import unpack_file
from tests.unit.images.layer_tars import directory, file, write_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners needs root")

ID = Path("/usr/bin/id")


def test_a_setuid_root_file_from_a_layer_runs_unprivileged_on_the_host(tmp_path: Path) -> None:
    # Unpacked where an unprivileged user can reach it, so only the file's own bits protect the host.
    reachable = tmp_path / "reachable"
    reachable.mkdir()
    os.chmod(tmp_path, 0o711)
    os.chmod(reachable, 0o755)
    blob = tmp_path / "layer.blob"
    write_layer(
        blob,
        [
            directory("usr/bin/", mode=0o755),
            file("usr/bin/id", ID.read_bytes(), mode=0o4755, uid=0, gid=0),
            file("usr/bin/wall", ID.read_bytes(), mode=0o2755, uid=0, gid=0),
        ],
        "gzip",
    )

    unpack_file(blob, reachable)

    for name in ("id", "wall"):
        copy = reachable / "usr/bin" / name
        assert stat.S_IMODE(copy.stat().st_mode) & (stat.S_ISUID | stat.S_ISGID) == 0, name
        assert os.access(copy, os.X_OK)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("no setpriv to run the copy as nobody")
    ran = subprocess.run(
        [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(reachable / "usr/bin/id"), "-u"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip() != "0"


def test_file_capabilities_from_a_layer_are_not_kept(tmp_path: Path) -> None:
    # cap_setuid+ep, as `setcap` writes it (VFS_CAP_REVISION_2).
    raw = b"\x01\x00\x00\x02" + b"\x80\x00\x00\x00" + b"\x00" * 12
    capability = raw.decode("utf-8", "surrogateescape")
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(
        blob,
        [file("bin/tool", b"#!/bin/sh\n", mode=0o755, pax={"SCHILY.xattr.security.capability": capability})],
    )

    unpack_file(blob, dest)

    assert "security.capability" not in os.listxattr(dest / "bin/tool")
