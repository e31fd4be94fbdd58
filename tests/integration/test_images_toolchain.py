"""The test-image toolchain: every image is built, configured as Lambda expects, and its runtime really answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import IMAGES, BuiltImages, cache
from tests.images.webapps import WEB_APPS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="building and chrooting into images needs root")

PYTHON_IMAGES = [name for name, spec in IMAGES.items() if spec.base.value == "python-base"]


def inspect(reference: str, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        ["skopeo", "inspect", *options, reference], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("name", list(IMAGES))
def test_image_config_is_lambdas(test_images: BuiltImages, name: str) -> None:
    spec = IMAGES[name]
    config = inspect(f"oci-archive:{test_images.path(name)}", "--config")
    assert config["os"] == "linux"
    assert config["architecture"] == "amd64"
    assert config["config"]["Entrypoint"] == list(spec.entrypoint)
    assert config["config"]["Cmd"] == list(spec.cmd)
    assert config["config"]["WorkingDir"] == "/var/task"
    assert "LAMBDA_TASK_ROOT=/var/task" in config["config"]["Env"]


def test_archive_layout_and_digest_agree(test_images: BuiltImages) -> None:
    for name in IMAGES:
        from_archive = inspect(f"oci-archive:{test_images.path(name)}")
        from_layout = inspect(test_images.layout_ref(name))
        assert from_archive["Digest"] == from_layout["Digest"] == test_images.digest(name)


def _top_layer_limit(name: str) -> float:
    if IMAGES[name].with_rie:
        return 6e6  # aws-lambda-rie itself
    if any(spec.name == name for spec in WEB_APPS):
        return 20e6  # Django or FastAPI, Mangum and their wheels
    return 100e3


def test_python_images_share_their_base_layer(test_images: BuiltImages) -> None:
    manifests = {name: inspect(test_images.layout_ref(name), "--raw") for name in PYTHON_IMAGES}
    bases = {manifest["layers"][0]["digest"] for manifest in manifests.values()}
    assert len(bases) == 1
    for name, manifest in manifests.items():
        base, top = manifest["layers"]
        assert 20e6 < base["size"] < 70e6, "the base layer (Debian + python3 + awslambdaric) stays lean"
        assert top["size"] < _top_layer_limit(name), (
            "handler code (with its framework, for web apps) is a small top layer"
        )
    busybox = inspect(test_images.layout_ref("busybox"), "--raw")
    assert sum(layer["size"] for layer in busybox["layers"]) < 3e6


def test_rootfs_dirs_hold_the_image_and_no_device_nodes(test_images: BuiltImages) -> None:
    root = test_images.rootfs("python-handlers")
    assert (root / "usr/bin/python3").exists()
    assert (root / "usr/local/lib/python3.11/dist-packages/awslambdaric/__main__.py").exists()
    assert (root / "var/task/app.py").exists()
    assert (root / "var/task/__pycache__").is_dir(), "bytecode is compiled ahead: the root is read-only"
    assert not (root / "usr/share/doc").exists() or not any((root / "usr/share/doc").iterdir())
    assert list((root / "dev").iterdir()) == []
    special = subprocess.run(
        ["find", str(root), "-xdev", "(", "-type", "b", "-o", "-type", "c", "-o", "-type", "p", ")"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert special.stdout == ""
    assert (test_images.rootfs("busybox") / "bin/busybox").exists()


def test_rie_is_extracted(test_images: BuiltImages) -> None:
    rie = test_images.rie()
    assert rie == cache.BIN / "aws-lambda-rie"
    assert rie.read_bytes()[:4] == b"\x7fELF"
    assert os.access(rie, os.X_OK)
    assert (test_images.rootfs("python-echo-rie") / "usr/local/bin/aws-lambda-rie").exists()


def test_warm_build_is_quick(test_images: BuiltImages) -> None:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "tests.images", "build"], check=True, capture_output=True)
    assert time.monotonic() - started < 3.0


class FakeRuntimeApi:
    """A minimal Runtime API on loopback: hands out the given events, records what the runtime posts back."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = list(events)
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.changed = threading.Condition()
        self.served = 0
        self.closed = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._reply(404, b"{}")
                with api.changed:
                    api.changed.wait_for(lambda: api.events or api.closed, 30)  # blocks like the real one
                    if not api.events:
                        return self._reply(500, b"{}")
                    body = api.events.pop(0)
                    api.served += 1
                    request_id = f"request-{api.served}"
                deadline = int((time.time() + 30) * 1000)
                self._reply(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:t",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    },
                )

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with api.changed:
                    api.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    api.changed.notify_all()
                self._reply(202, b'{"status":"OK"}')

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def wait_for_posts(self, count: int, timeout: float) -> list[tuple[str, dict[str, str], bytes]]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.posts) >= count, timeout)
            return list(self.posts)

    def __enter__(self) -> FakeRuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()


def run_image(
    test_images: BuiltImages, name: str, events: list[bytes], cmd: list[str] | None = None, posts: int = 1
) -> list[tuple[str, dict[str, str], bytes]]:
    """Runs the image's entrypoint + cmd chrooted into its rootfs (own mount namespace, /dev, /proc, tmpfs /tmp)."""
    root = test_images.rootfs(name)
    config = inspect(f"oci-archive:{test_images.path(name)}", "--config")["config"]
    argv = [*config["Entrypoint"], *(cmd or config["Cmd"])]
    setup = (
        f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && '
        f'mount -t tmpfs tmpfs "{root}/tmp" && exec chroot "{root}" /bin/sh -c \'cd "$0" && exec "$@"\' "$@"'
    )
    with FakeRuntimeApi(events) as api:
        env = dict(item.split("=", 1) for item in config["Env"])
        env.update(AWS_LAMBDA_RUNTIME_API=api.address, AWS_LAMBDA_FUNCTION_NAME="t", SLOW_INIT_SECONDS="0.1")
        command = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            setup,
            "-",
            config["WorkingDir"],
        ]
        process = subprocess.Popen(
            [*command, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            received = api.wait_for_posts(posts, timeout=20)
        finally:
            process.kill()
            output = process.communicate()[0].decode(errors="replace")
    assert len(received) >= posts, f"the runtime posted {received}; its output:\n{output}"
    return received


def test_python_echo_answers(test_images: BuiltImages) -> None:
    [(path, _headers, body)] = run_image(test_images, "python-echo", [b'{"hello": "world"}'])
    assert path == "/2018-06-01/runtime/invocation/request-1/response"
    assert json.loads(body) == {"hello": "world"}


def test_python_handlers_error_and_import_error(test_images: BuiltImages) -> None:
    [(path, _headers, body)] = run_image(test_images, "python-handlers", [b'{"message": "m"}'], ["app.error"])
    assert path.endswith("/request-1/error")
    assert json.loads(body)["errorType"] == "HandlerError"
    [(path, headers, body)] = run_image(test_images, "python-handlers", [b"{}"], ["import_error.handler"])
    assert path == "/2018-06-01/runtime/init/error"
    assert headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert json.loads(body)["errorType"] == "Runtime.ImportModuleError"


def test_python_handlers_context(test_images: BuiltImages) -> None:
    [(_path, _headers, body)] = run_image(test_images, "python-handlers", [b"{}"], ["app.context"])
    context = json.loads(body)
    assert context["aws_request_id"] == "request-1"
    assert context["invoked_function_arn"].endswith(":function:t")
    assert 0 < context["remaining_time_in_millis"] <= 30_000


CHECKS: list[tuple[str, dict[str, Any], Any]] = [
    ("app.large_response", {"size": 1000}, lambda body: len(body) == 1000),
    ("app.env", {}, lambda body: json.loads(body)["cwd"] == "/var/task"),
    ("app.state", {}, lambda body: json.loads(body)["invocations"] == 1),
    ("app.tmp_write", {"size": 10}, lambda body: json.loads(body)["read_back"] is True),
    ("app.log", {"lines": ["a", "b"]}, lambda body: json.loads(body) == {"stdout": 2, "stderr": 0}),
    ("slow_init.handler", {"x": 1}, lambda body: json.loads(body)["event"] == {"x": 1}),
]


@pytest.mark.parametrize(("handler", "event", "check"), CHECKS, ids=[handler for handler, _, _ in CHECKS])
def test_python_handlers(test_images: BuiltImages, handler: str, event: dict[str, Any], check: Any) -> None:
    [(path, _headers, body)] = run_image(
        test_images, "python-handlers", [json.dumps(event).encode()], [handler]
    )
    assert path.endswith("/request-1/response"), body
    assert check(body), body


def test_python_echo_rie_answers_on_8080(test_images: BuiltImages, tmp_path: Path) -> None:
    """The emulator anchor: aws-lambda-rie as the entrypoint, invoked on :8080 in a network namespace of its own."""
    root = test_images.rootfs("python-echo-rie")
    url = "http://127.0.0.1:8080/2015-03-31/functions/function/invocations"
    script = tmp_path / "rie.sh"
    script.write_text(
        f"""set -e
ip link set lo up
mount --rbind /dev "{root}/dev"; mount -t proc proc "{root}/proc"; mount -t tmpfs tmpfs "{root}/tmp"
chroot "{root}" /bin/sh -c 'cd /var/task && exec "$@"' - {" ".join(IMAGES["python-echo-rie"].entrypoint)} app.handler \
    >"{tmp_path}/rie.log" 2>&1 &
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.1; done
curl -sS -XPOST {url} -d '{{"via": "rie"}}'
kill $!
"""
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--net", "sh", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(done.stdout) == {"via": "rie"}, done.stderr + (tmp_path / "rie.log").read_text()


@pytest.mark.parametrize("name", ["shell-runtime", "busybox"])
def test_shell_runtimes_echo_and_error(test_images: BuiltImages, name: str) -> None:
    posts = run_image(test_images, name, [b'{"n": 1}', b'{"n": 2}'], posts=2)
    assert [(path, json.loads(body)) for path, _headers, body in posts] == [
        ("/2018-06-01/runtime/invocation/request-1/response", {"n": 1}),
        ("/2018-06-01/runtime/invocation/request-2/response", {"n": 2}),
    ]
    [(path, headers, body)] = run_image(test_images, name, [b"{}"], ["error"])
    assert path.endswith("/request-1/error")
    assert headers["lambda-runtime-function-error-type"] == "Function.ShellError"
    assert json.loads(body)["errorType"] == "ShellError"


def test_push_into_lambkins_registry(test_images: BuiltImages, server: LambkinServer) -> None:
    if httpx.get(f"{server.endpoint}/v2/").status_code not in (200, 401):
        pytest.skip("lambkin's registry is not served yet")
    uri = test_images.push("busybox", server.registry, (ACCESS_KEY_ID, SECRET_ACCESS_KEY), tag="t1")
    assert uri == f"{server.registry}/busybox:t1"
    pushed = inspect(
        f"docker://{uri}", "--tls-verify=false", "--creds", f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}", "--raw"
    )
    layout = inspect(test_images.layout_ref("busybox"), "--raw")
    assert pushed == layout


def test_image_path_of_unknown_name_fails() -> None:
    from tests.images import image_path

    with pytest.raises(KeyError, match="no test image named"):
        image_path("no-such-image")


def test_cache_keys_follow_inputs(tmp_path: Path) -> None:
    from tests.images.cache import Hasher

    (tmp_path / "a.py").write_text("one")
    first = Hasher("t").tree("layer", tmp_path).hexdigest()
    (tmp_path / "a.py").write_text("two")
    assert Hasher("t").tree("layer", tmp_path).hexdigest() != first


def test_docker_archive_is_made_on_demand(test_images: BuiltImages) -> None:
    archive = test_images.docker_archive("busybox")
    with tarfile.open(archive) as tar:
        [entry] = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert entry["RepoTags"] == ["docker.io/library/busybox:latest"]
    assert len(entry["Layers"]) == 2
