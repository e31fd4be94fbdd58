"""Real tools for the image tests: small busybox images built with buildah, skopeo, and Debian's registry."""

from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.harness import free_port

REGISTRY_USER = "alice"
REGISTRY_PASSWORD = "s3cret-pass"


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done


def lambkin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs the `lambkin` command as a user would; the caller checks the exit status."""
    return run(sys.executable, "-m", "lambkin", *args, check=False)


@functools.cache
def busybox_layout(workdir: Path) -> Path:
    """An OCI layout built once per test session with buildah, holding:

    - `busybox:v1`: a base layer (busybox, /bin/sh, /etc/hello.txt, /etc/motd) and a second layer
      that deletes /etc/motd (a whiteout) and adds /app/run.sh;
    - `busybox-arm:v1`: the same files, its config saying arm64.
    """
    work = workdir / "buildah"
    if work.exists():
        shutil.rmtree(work)
    ctx = work / "ctx"
    (ctx / "bin").mkdir(parents=True)
    (ctx / "etc").mkdir()
    shutil.copy2("/bin/busybox", ctx / "bin/busybox")
    (ctx / "bin/sh").symlink_to("busybox")
    (ctx / "etc/hello.txt").write_text("hello from busybox\n")
    (ctx / "etc/motd").write_text("message of the day\n")
    layout = work / "layout"
    buildah = [
        "buildah",
        "--root",
        str(work / "root"),
        "--runroot",
        str(work / "run"),
        "--storage-driver",
        "vfs",
    ]
    base = run(*buildah, "from", "scratch").stdout.strip()
    run(*buildah, "copy", base, str(ctx), "/")
    run(*buildah, "config", "--entrypoint", '["/bin/sh","-c"]', "--cmd", "cat /etc/hello.txt", base)
    run(*buildah, "config", "--env", "GREETING=hi", "--workingdir", "/etc", base)
    run(*buildah, "commit", "-q", base, "bb-base")
    top = run(*buildah, "from", "bb-base").stdout.strip()
    script = "rm /etc/motd && mkdir -p /app && echo 'echo hi' > /app/run.sh"
    run(*buildah, "run", "--isolation", "chroot", top, "--", "/bin/sh", "-c", script)
    run(*buildah, "commit", "-q", top, "busybox:v1")
    run(*buildah, "push", "-q", "busybox:v1", f"oci:{layout}:busybox:v1")
    arm = run(*buildah, "from", "bb-base").stdout.strip()
    run(*buildah, "config", "--arch", "arm64", arm)
    run(*buildah, "commit", "-q", arm, "busybox-arm:v1")
    run(*buildah, "push", "-q", "busybox-arm:v1", f"oci:{layout}:busybox-arm:v1")
    return layout


def layout_digest(layout: Path, name: str) -> str:
    """The manifest digest of the image `name` in an OCI layout's index."""
    index = json.loads((layout / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == name:
            return str(entry["digest"])
    raise KeyError(name)


def skopeo_copy(source: str, destination: str, *options: str) -> None:
    run(
        "skopeo",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--src-tls-verify=false",
        *options,
        source,
        destination,
    )


def remote_digest(reference: str, *options: str) -> str:
    out = run("skopeo", "inspect", "--tls-verify=false", "--raw", *options, f"docker://{reference}").stdout
    import hashlib

    return "sha256:" + hashlib.sha256(out.encode()).hexdigest()


class DockerRegistry:
    """Debian's `docker-registry` (distribution 2.x) on a free loopback port, optionally with htpasswd auth."""

    def __init__(self, workdir: Path, auth: bool = False, tls: bool = False) -> None:
        self.workdir = workdir
        self.auth = auth
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DockerRegistry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = [
            "version: 0.1",
            "log: {level: error}",
            f"storage: {{filesystem: {{rootdirectory: {self.workdir / 'data'}}}, delete: {{enabled: true}}}}",
        ]
        tls = ""
        if self.tls:
            cert, key = self.workdir / "cert.pem", self.workdir / "key.pem"
            run(
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lambkin-test",
                "-addext", f"subjectAltName=DNS:{socket.gethostname()},IP:127.0.0.1",
                "-keyout", key, "-out", cert,
            )  # fmt: skip
            tls = f", tls: {{certificate: {cert}, key: {key}}}"
        config.append(f"http: {{addr: '{self.address}', secret: lambkin-tests{tls}}}")
        if self.auth:
            htpasswd = self.workdir / "htpasswd"
            line = run("htpasswd", "-Bbn", REGISTRY_USER, REGISTRY_PASSWORD).stdout.strip()
            htpasswd.write_text(line + "\n")
            config.append(f"auth: {{htpasswd: {{realm: lambkin-tests, path: {htpasswd}}}}}")
        (self.workdir / "config.yml").write_text("\n".join(config) + "\n")
        with (self.workdir / "registry.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(self.workdir / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{'https' if self.tls else 'http'}://{self.address}/v2/", timeout=1, verify=False)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TimeoutError("docker-registry did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def creds(self) -> str:
        return f"{REGISTRY_USER}:{REGISTRY_PASSWORD}"
