"""Device nodes in a layer (a debootstrap root's /dev) are skipped, fifos kept, as container engines do."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from lambkin.images.unpack import unpack_file
from tests.unit.images.layer_tars import Entry, directory, file, write_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners needs root")


def test_device_nodes_are_skipped_and_the_rest_of_the_layer_unpacks(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(
        blob,
        [
            directory("dev/", mode=0o755),
            Entry("dev/console", tarfile.CHRTYPE, mode=0o600, devmajor=5, devminor=1),
            Entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
            Entry("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
            file("etc/hostname", b"debootstrap\n"),
        ],
        "gzip",
    )

    stats = unpack_file(blob, dest)

    assert stats.skipped_devices == 3
    assert sorted(os.listdir(dest / "dev")) == []
    assert (dest / "etc/hostname").read_bytes() == b"debootstrap\n"


def test_a_fifo_is_kept_as_a_fifo_without_privilege_bits(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(blob, [Entry("run/initctl", tarfile.FIFOTYPE, mode=0o4600, uid=7, gid=8)])

    unpack_file(blob, dest)

    st = os.lstat(dest / "run/initctl")
    assert stat.S_ISFIFO(st.st_mode)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 7, 8)
