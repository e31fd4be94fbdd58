"""Root filesystems for the test images: Debian bookworm with Python and awslambdaric, and a busybox one."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from tests.images import cache
from tests.images.cache import Hasher

SUITE = "bookworm"
PACKAGES = ("python3", "curl")  # curl serves the shell custom runtime; it costs ~5 MB
AWSLAMBDARIC = "awslambdaric==4.2.2"
SAM_CLI = "aws-sam-cli==1.170.0"  # its wheel ships the aws-lambda-rie binaries
PYTHON_VERSION = "3.11"  # bookworm's python3, the same as the host's
SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Removed after debootstrap: documentation, translations and apt's caches (about 140 MB of 270).
STRIP = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/linda",
    "usr/share/common-licenses",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/cache/debconf",
    "var/log",
    "var/cache/ldconfig",
)
KEEP_LOCALE = "locale.alias"
SANDBOX_USER = "sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"  # Lambda's default user
SANDBOX_GROUP = "sbx_user1051:x:990:\n"


def log(message: str) -> None:
    print(f"[images] {message}", flush=True)


def run(*args: str | Path, log_to: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Runs a command; on failure raises with its output (or the tail of its log file)."""
    command = [str(arg) for arg in args]
    if log_to is None:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout
    with log_to.open("w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        tail = "\n".join(log_to.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}); see {log_to}:\n{tail}")
    return ""


def debian_mirror() -> str:
    """The Debian mirror apt is configured with here (LAMBKIN_DEBIAN_MIRROR overrides it)."""
    if override := os.environ.get("LAMBKIN_DEBIAN_MIRROR"):
        return override
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        if source.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                    return fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
                if match and match.group(2) == SUITE:
                    return match.group(1)
    return DEFAULT_MIRROR


def python_base_key() -> str:
    return (
        Hasher("python-base")
        .json("inputs", [SUITE, PACKAGES, AWSLAMBDARIC, STRIP, KEEP_LOCALE, SANDBOX_USER])
        .file("rootfs.py", Path(__file__))
        .hexdigest()
    )


def busybox_binary() -> Path:
    """The host's busybox, which must be the static one (Debian's busybox-static): the image has no libc."""
    binary = Path(shutil.which("busybox") or "/bin/busybox").resolve()
    if not is_static_elf(binary):
        raise RuntimeError(
            f"{binary} is dynamically linked: install busybox-static (scripts/setup-system.sh)"
        )
    return binary


def is_static_elf(path: Path) -> bool:
    """Whether a 64-bit little-endian ELF file has no program interpreter (PT_INTERP), i.e. needs no ld.so."""
    with path.open("rb") as handle:
        header = handle.read(64)
        if header[:5] != b"\x7fELF\x02":
            return False
        (offset,) = struct.unpack_from("<Q", header, 0x20)
        size, count = struct.unpack_from("<HH", header, 0x36)
        handle.seek(offset)
        table = handle.read(size * count)
    return all(struct.unpack_from("<I", table, i * size)[0] != 3 for i in range(count))


def busybox_base_key() -> str:
    return (
        Hasher("busybox-base")
        .file("busybox", busybox_binary())
        .json("inputs", [SANDBOX_USER])
        .file("rootfs.py", Path(__file__))
        .hexdigest()
    )


def build_python_base(target: Path) -> None:
    """debootstrap (minbase + python3 + curl) from the configured mirror, stripped, with awslambdaric."""
    cache.WORK.mkdir(parents=True, exist_ok=True)
    scratch = cache.WORK / f"{target.name}.tmp"
    cache.remove_tree(scratch)
    run("cp", "-a", debootstrap(), scratch)
    log("stripping docs, locales and caches")
    strip(scratch)
    install_wheels(scratch, AWSLAMBDARIC)
    finish_tree(scratch)
    cache.remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(target)
    os.utime(target)
    log(f"python base rootfs ready: {target} ({tree_size(target) / 1e6:.0f} MB)")


def debootstrap() -> Path:
    """The pristine debootstrap tree, kept so that changing what follows it does not download it again."""
    key = Hasher("debootstrap").json("inputs", [SUITE, PACKAGES]).hexdigest()
    target = cache.CACHE / "debootstrap" / f"{SUITE}-{key}"
    if (target / "usr/bin/python3").exists():
        return target
    scratch = target.with_name(f"{target.name}.tmp")
    cache.remove_tree(scratch)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    started = time.monotonic()
    log(f"debootstrap {SUITE} minbase + {', '.join(PACKAGES)} from {mirror} (about a minute)")
    run(
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        scratch,
        mirror,
        log_to=cache.WORK / "debootstrap.log",
    )
    for stale in target.parent.iterdir():
        if stale != scratch:
            cache.remove_tree(stale)
    scratch.rename(target)
    os.utime(target)
    log(f"debootstrap done in {time.monotonic() - started:.0f} s")
    return target


def strip(root: Path) -> None:
    for relative in STRIP:
        path = root / relative
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                cache.remove_tree(child)
    locales = root / "usr/share/locale"
    if locales.is_dir():
        for child in locales.iterdir():
            if child.name != KEEP_LOCALE:
                cache.remove_tree(child)
    (root / "etc/resolv.conf").write_text("")
    (root / "etc/hostname").write_text("localhost\n")


def install_wheels(root: Path, requirement: str) -> None:
    """Installs a requirement and its dependencies, as manylinux cp311 wheels, into the rootfs's site-packages."""
    wheels = cache.DOWNLOADS / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platform = [
        f"--python-version={PYTHON_VERSION}",
        "--platform=manylinux2014_x86_64",
        "--implementation=cp",
        "--only-binary=:all:",
    ]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    log(f"pip: {requirement} into {SITE_PACKAGES}")
    run(*pip, "download", *platform, "--dest", wheels, requirement)
    run(
        *pip,
        "install",
        *platform,
        "--no-index",
        "--find-links",
        wheels,
        "--target",
        root / SITE_PACKAGES,
        requirement,
    )
    for scripts in (root / SITE_PACKAGES / "bin",):
        cache.remove_tree(scripts)


def finish_tree(root: Path) -> None:
    """Directories every Lambda image has, Lambda's sandbox user, and no device nodes (layers must not hold any)."""
    for relative in ("var/task", "var/runtime", "opt", "tmp", "dev", "proc", "sys"):
        (root / relative).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    cache.remove_tree(root / "dev")
    (root / "dev").mkdir()
    for directory, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(directory) / name
            if not (path.is_symlink() or path.is_file()):
                path.unlink()  # fifos, sockets and device nodes
    passwd, group = root / "etc/passwd", root / "etc/group"
    if passwd.exists() and "sbx_user1051" not in passwd.read_text():
        with passwd.open("a") as handle:
            handle.write(SANDBOX_USER)
        with group.open("a") as handle:
            handle.write(SANDBOX_GROUP)


def build_busybox_base(target: Path) -> None:
    """A few-MB rootfs: the static busybox with its applets linked in /bin, plus the Lambda directories."""
    scratch = cache.WORK / f"{target.name}.tmp"
    cache.remove_tree(scratch)
    for relative in ("bin", "etc", "var/task", "var/runtime", "tmp", "dev", "proc", "sys", "root"):
        (scratch / relative).mkdir(parents=True)
    (scratch / "tmp").chmod(0o1777)
    (scratch / "usr").mkdir()
    (scratch / "usr/bin").symlink_to("../bin")
    (scratch / "sbin").symlink_to("bin")
    (scratch / "usr/sbin").symlink_to("../bin")
    binary = busybox_binary()
    shutil.copy2(binary, scratch / "bin/busybox")
    applets = run(binary, "--list").split()
    for applet in applets:
        link = scratch / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (scratch / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" + SANDBOX_USER
    )
    (scratch / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n" + SANDBOX_GROUP)
    (scratch / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (scratch / "etc/resolv.conf").write_text("")
    cache.remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(target)
    os.utime(target)
    log(f"busybox base rootfs ready: {target} ({len(applets)} applets)")


def rie_key() -> str:
    return Hasher("aws-lambda-rie").text("sam", SAM_CLI).hexdigest()


def build_rie(target: Path) -> None:
    """Extracts aws-lambda-rie (x86_64) from the aws-sam-cli wheel, downloaded once from PyPI."""
    downloads = cache.DOWNLOADS / "sam"
    downloads.mkdir(parents=True, exist_ok=True)
    log(f"pip download {SAM_CLI} --no-deps, for aws-lambda-rie")
    run(sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "download", "--no-deps",
        "--dest", downloads, SAM_CLI)  # fmt: skip
    version = SAM_CLI.split("==")[1]
    wheel = next(downloads.glob(f"aws_sam_cli-{version}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith("/aws-lambda-rie-x86_64"))
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(archive.read(member))
    temporary.chmod(0o755)
    temporary.replace(target)
    log(f"aws-lambda-rie ready: {target}")


def tree_size(root: Path) -> int:
    total = 0
    for path in cache.walk(root):
        if not path.is_symlink():
            total += path.lstat().st_size
    return total
