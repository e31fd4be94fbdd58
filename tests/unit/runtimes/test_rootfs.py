"""A runtime's tree: honest language versions, modes that are the image's own, the bootstrap in place."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.runtimes import rootfs
from lambkin.runtimes.build import recipe_key
from lambkin.runtimes.recipes import RECIPES, Language, Recipe
from lambkin.runtimes.rootfs import BuildFailed


def dpkg_status(root: Path, *packages: tuple[str, str]) -> None:
    (root / "var/lib/dpkg").mkdir(parents=True)
    stanzas = [
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n" for name, version in packages
    ]
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))


@pytest.fixture
def private_umask() -> Iterator[None]:
    """The CLI builds under the server's umask 077 (cli.server.keep_private)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_runtime_exists_only_where_its_language_version_is_there(tmp_path: Path) -> None:
    dpkg_status(tmp_path, ("python3.11", "3.11.2-6+deb12u6"), ("nodejs", "18.19.0+dfsg-6~deb12u2"))
    rootfs.check_language(RECIPES["python3.11"], tmp_path)
    rootfs.check_language(RECIPES["nodejs18.x"], tmp_path)
    with pytest.raises(
        BuildFailed, match=re.escape("has nodejs 18.19.0+dfsg-6~deb12u2, not 20: no such runtime")
    ):
        rootfs.check_language(RECIPES["nodejs20.x"], tmp_path)
    with pytest.raises(BuildFailed, match=re.escape("python3.13 none")):
        rootfs.check_language(RECIPES["python3.13"], tmp_path)


def test_the_tree_has_lambdas_directories_and_user_whatever_the_umask(
    tmp_path: Path, private_umask: None
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    os.mkfifo(tmp_path / "etc/fifo")
    rootfs.install_client(RECIPES["provided.al2023"], tmp_path, tmp_path / "downloads", print)
    rootfs.strip(tmp_path)
    rootfs.finish_tree(tmp_path)
    modes = {
        path: stat.S_IMODE((tmp_path / path).stat().st_mode) for path in ("var/task", "opt", "var/runtime")
    }
    assert modes == {"var/task": 0o755, "opt": 0o755, "var/runtime": 0o755}
    assert stat.S_IMODE((tmp_path / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((tmp_path / "var/runtime/bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "etc/resolv.conf").stat().st_mode) == 0o644
    assert not (tmp_path / "etc/fifo").exists()
    assert "sbx_user1051:x:993:990:" in (tmp_path / "etc/passwd").read_text()
    assert "/opt/bootstrap" in (tmp_path / "var/runtime/bootstrap").read_text()


def test_the_shell_is_bash_as_on_amazon_linux(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "bin").symlink_to("usr/bin")  # merged /usr, as bookworm and trixie are
    (tmp_path / "usr/bin/bash").write_text("")
    (tmp_path / "usr/bin/sh").symlink_to("dash")
    rootfs.shell_as_on_amazon_linux(tmp_path)
    assert os.readlink(tmp_path / "bin/sh") == "bash"


def test_the_python_bootstrap_names_its_own_interpreter() -> None:
    script = (rootfs.BOOTSTRAPS / "python.sh").read_text().replace("@VERSION@", "3.13")
    assert "exec /usr/bin/python3.13 -m awslambdaric" in script


def test_the_mirror_can_be_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBKIN_DEBIAN_MIRROR", "http://mirror.invalid/debian")
    assert rootfs.debian_mirror("trixie") == "http://mirror.invalid/debian"


def test_the_cache_key_follows_the_recipe() -> None:
    python = RECIPES["python3.11"]
    assert recipe_key(python) == recipe_key(python)
    changed = Recipe(python.name, Language.PYTHON, python.suite, (*python.packages, "curl"), python.version)
    assert recipe_key(changed) != recipe_key(python)
