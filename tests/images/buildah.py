"""buildah and skopeo, run against the toolchain's private containers-storage under .cache/images/buildah."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

from tests.images import cache


class ToolError(RuntimeError):
    """A buildah or skopeo command failed; the message carries its output."""


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


class Buildah:
    """The few buildah verbs the toolchain needs, with its own storage so other users' buildah is untouched."""

    def __init__(self, root: Path = cache.BUILDAH_ROOT) -> None:
        self._global = [
            "buildah",
            "--root",
            str(root / "storage"),
            "--runroot",
            str(root / "run"),
            "--storage-driver",
            "overlay",
        ]

    def __call__(self, *args: str) -> str:
        return _run([*self._global, *args])

    def exists(self, image: str) -> bool:
        try:
            self("inspect", "--type", "image", "--format", "{{.FromImageID}}", image)
        except ToolError:
            return False
        return True

    def from_image(self, image: str) -> str:
        return self("from", "--pull-never", "--quiet", image).splitlines()[-1]

    def from_scratch(self) -> str:
        return self("from", "--quiet", "scratch").splitlines()[-1]

    def mount(self, container: str) -> Path:
        return Path(self("mount", container))

    def umount(self, container: str) -> None:
        self("umount", container)

    def copy(self, container: str, source: Path, destination: str) -> None:
        self("copy", "--quiet", container, str(source), destination)

    def config(
        self,
        container: str,
        *,
        entrypoint: tuple[str, ...],
        cmd: tuple[str, ...],
        workdir: str,
        env: tuple[str, ...],
    ) -> None:
        args = ["config", "--os", "linux", "--arch", "amd64"]
        args += ["--entrypoint", json.dumps(list(entrypoint)), "--cmd", json.dumps(list(cmd))]
        args += ["--workingdir", workdir]
        for pair in env:
            args += ["--env", pair]
        self(*args, container)

    def commit(self, container: str, image: str) -> str:
        return self("commit", "--quiet", "--rm", "--format", "oci", container, image).splitlines()[-1]

    def push(self, image: str, destination: str) -> None:
        self("push", "--quiet", image, destination)

    def remove_container(self, container: str) -> None:
        with contextlib.suppress(ToolError):
            self("rm", container)

    def remove_all_containers(self) -> None:
        """Working containers an interrupted build left behind (the storage is the toolchain's alone)."""
        with contextlib.suppress(ToolError):
            self("rm", "--all")

    def images(self, repository: str) -> list[str]:
        """Every local name (repository:tag) under the given repository."""
        out = self("images", "--format", "{{.Name}}:{{.Tag}}", "--filter", f"reference={repository}")
        return [line for line in out.splitlines() if line]

    def remove_image(self, image: str) -> None:
        with contextlib.suppress(ToolError):
            self("rmi", image)


def skopeo(*args: str) -> str:
    return _run(["skopeo", *args])
