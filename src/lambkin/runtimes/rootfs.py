"""A runtime's root filesystem: debootstrap of its Debian suite, stripped, checked, with its interface client."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lambkin.runtimes.recipes import AWSLAMBDARIC, BOTO3, RUNTIME_DIR, Language, Recipe

Log = Callable[[str], None]
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Removed after debootstrap: documentation, translations, apt's caches and logs.
STRIP = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/common-licenses",
    "var/cache/apt", "var/lib/apt/lists", "var/cache/debconf", "var/log", "var/cache/ldconfig",
)  # fmt: skip
SANDBOX_USER = "sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"  # Lambda's default user
SANDBOX_GROUP = "sbx_user1051:x:990:\n"
BOOTSTRAPS = Path(__file__).with_name("bootstraps")
UMASK = 0o022  # the tree's modes are the image's: never the building process's (the CLI's is private)


class BuildFailed(RuntimeError):
    """A step of a runtime's build failed; the message carries the command's output (or its tail)."""


def run(*args: str | Path, log_to: Path | None = None, cwd: Path | None = None) -> str:
    command = [str(arg) for arg in args]
    if log_to is None:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd, umask=UMASK)
        if done.returncode != 0:
            raise BuildFailed(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout
    with log_to.open("w") as handle:
        logged = subprocess.run(
            command, stdout=handle, stderr=subprocess.STDOUT, check=False, cwd=cwd, umask=UMASK
        )
    if logged.returncode != 0:
        tail = "\n".join(log_to.read_text(errors="replace").splitlines()[-30:])
        raise BuildFailed(f"{' '.join(command)} failed ({logged.returncode}); see {log_to}:\n{tail}")
    return ""


def debian_mirror(suite: str) -> str:
    """The Debian mirror apt is configured with for `suite`, or its bookworm one (LAMBKIN_DEBIAN_MIRROR wins)."""
    if override := os.environ.get("LAMBKIN_DEBIAN_MIRROR"):
        return override
    found: dict[str, str] = {}
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text()
        except OSError:
            continue
        if source.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                for name in fields.get("Suites", "").split():
                    found.setdefault(name, fields.get("URIs", "").split()[0] if fields.get("URIs") else "")
        else:
            for line in text.splitlines():
                match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
                if match:
                    found.setdefault(match.group(2), match.group(1))
    return found.get(suite) or next((url for url in found.values() if "debian" in url), DEFAULT_MIRROR)


def debootstrap(recipe: Recipe, target: Path, work: Path, log: Log) -> None:
    """A minbase tree of the recipe's suite with its packages, from the configured mirror."""
    mirror = debian_mirror(recipe.suite)
    log(f"debootstrap {recipe.suite} minbase + {', '.join(recipe.packages)} from {mirror}")
    scratch = work / f"{target.name}.debootstrap"
    remove_tree(scratch)
    run(
        "debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}",
        recipe.suite, scratch, mirror, log_to=work / f"{target.name}.debootstrap.log",
    )  # fmt: skip
    remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(target)


def installed_version(root: Path, package: str) -> str | None:
    """The version dpkg recorded for `package` in the tree, if it is installed there."""
    status = (root / "var/lib/dpkg/status").read_text(errors="replace")
    for stanza in status.split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.MULTILINE))
        if fields.get("Package") == package and "installed" in fields.get("Status", ""):
            return fields.get("Version")
    return None


def check_language(recipe: Recipe, root: Path) -> None:
    """Refuses a tree whose language is not the version the runtime's name promises."""
    if recipe.language is Language.PROVIDED:
        return
    package = "nodejs" if recipe.language is Language.NODE else f"python{recipe.version}"
    version = installed_version(root, package) or "none"
    upstream = re.sub(r"^\d+:", "", version)
    if not upstream.startswith(f"{recipe.version}."):
        raise BuildFailed(
            f"{recipe.name}: Debian {recipe.suite} has {package} {version}, not {recipe.version}: no such runtime"
        )


def strip(root: Path) -> None:
    for relative in STRIP:
        path = root / relative
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                remove_tree(child)
    locales = root / "usr/share/locale"
    if locales.is_dir():
        for child in locales.iterdir():
            if child.name != "locale.alias":
                remove_tree(child)
    for name, text in (("etc/resolv.conf", ""), ("etc/hostname", "localhost\n")):
        (root / name).write_text(text)
        (root / name).chmod(0o644)


def install_client(recipe: Recipe, root: Path, downloads: Path, log: Log) -> None:
    """The runtime interface client into /var/runtime, and the runtime's bootstrap beside it."""
    runtime_dir = root / RUNTIME_DIR.lstrip("/")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    if recipe.language is Language.PYTHON:
        install_wheels(recipe, runtime_dir, downloads, log)
    script = (BOOTSTRAPS / f"{recipe.language.value}.sh").read_text()
    bootstrap = runtime_dir / "bootstrap"
    bootstrap.write_text(script.replace("@VERSION@", recipe.version))
    readable(runtime_dir)  # pip --target leaves its dirs 0700
    bootstrap.chmod(0o755)


def readable(top: Path) -> None:
    """Everything under `top` readable by all (the sandbox's user is not root), whatever the build's umask:
    directories 0755, files 0755 if executable by someone, else 0644."""
    for directory, _dirnames, filenames in os.walk(top):
        Path(directory).chmod(0o755)
        for name in filenames:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def install_wheels(recipe: Recipe, target: Path, downloads: Path, log: Log) -> None:
    """awslambdaric, boto3 and their dependencies as manylinux wheels for the runtime's Python (not the
    host's)."""
    wheels = downloads / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platform = [
        f"--python-version={recipe.version}", "--platform=manylinux2014_x86_64",
        "--implementation=cp", "--only-binary=:all:",
    ]  # fmt: skip
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    log(f"pip: {AWSLAMBDARIC} {BOTO3} for Python {recipe.version} into {RUNTIME_DIR}")
    run(*pip, "download", *platform, "--dest", wheels, AWSLAMBDARIC, BOTO3)
    run(
        *pip,
        "install",
        *platform,
        "--no-index",
        "--find-links",
        wheels,
        "--target",
        target,
        AWSLAMBDARIC,
        BOTO3,
    )
    remove_tree(target / "bin")


def finish_tree(root: Path) -> None:
    """Directories every Lambda runtime has, Lambda's sandbox user, and no device nodes, fifos or sockets."""
    remove_tree(root / "dev")
    for relative in ("var/task", "opt", "tmp", "proc", "sys", "dev"):
        (root / relative).mkdir(parents=True, exist_ok=True)
        (root / relative).chmod(0o755)
    (root / "tmp").chmod(0o1777)
    for directory, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(directory) / name
            if not (path.is_symlink() or path.is_file()):
                path.unlink()
    shell_as_on_amazon_linux(root)
    passwd, group = root / "etc/passwd", root / "etc/group"
    if "sbx_user1051" not in passwd.read_text():
        with passwd.open("a") as handle:
            handle.write(SANDBOX_USER)
        with group.open("a") as handle:
            handle.write(SANDBOX_GROUP)


def shell_as_on_amazon_linux(root: Path) -> None:
    """/bin/sh is bash, as on the Amazon Linux every Lambda runtime is built on (Debian's is dash): a
    `#!/bin/sh` bootstrap written for Lambda (`set -o pipefail`, `source`, `[[ ]]`) runs as it does there.
    bash is essential in Debian, so minbase has it."""
    bin_dir = root / "usr/bin" if (root / "bin").is_symlink() else root / "bin"
    if (bin_dir / "bash").is_file():
        (bin_dir / "sh").unlink(missing_ok=True)
        (bin_dir / "sh").symlink_to("bash")


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
