"""What the invoke benches share: a `lambkin server` with a function on it, a signed Invoke replayed over a
raw keep-alive connection, the AWS RIE in a runc sandbox as the anchor, timing and percentiles."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.lambda_support import execution_role  # noqa: E402
from tests.harness import LambkinServer  # noqa: E402

from lambkin.sandbox import syscalls  # noqa: E402
from lambkin.sandbox.runc import RuncBackend  # noqa: E402
from lambkin.sandbox.spec import SandboxSpec  # noqa: E402

WORK = (ROOT / ".cache").resolve() / "bench" / "invoke"  # runc refuses a bundle path through a symlink
CLONE_NEWNET = 0x40000000
RIE_INVOKE = "/2015-03-31/functions/function/invocations"
# The benches' functions' MemorySize: one whole vCPU on both sides (at 128 MB the CFS quota throttles both)
MEMORY_MB = 1769


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the anchor: aws-lambda-rie as the entrypoint of the image, in a runc sandbox ---------------------------


class RieSandbox:
    """The python-echo-rie image in a runc sandbox; `connect()` opens a TCP connection to its RIE on 8080."""

    def __init__(
        self, backend: RuncBackend, name: str = "python-echo-rie", memory_mb: int = 128, boost: bool = False
    ) -> None:
        from tests.images import rootfs_dir
        from tests.images.specs import IMAGES

        self.backend = backend
        self.image = IMAGES[name]
        self.root = rootfs_dir(name)
        self.sandbox: Any = None
        self.output: list[bytes] = []
        self.memory_mb = memory_mb
        self.boost = boost  # all host cores throughout, as a plain `runc run` without a CPU limit

    def spec(self, sandbox_id: str) -> SandboxSpec:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": "3",
        }
        return SandboxSpec(
            id=sandbox_id,
            lower_dirs=(self.root,),
            args=(*self.image.entrypoint, *self.image.cmd),
            env=tuple(env.items()),
            cwd="/var/task",
            memory_mb=self.memory_mb,
            runtime_api_port=9999,  # the RIE serves its own Runtime API on 9001
            init_cpu_boost=self.boost,
        )

    async def create(self, sandbox_id: str) -> None:
        self.sandbox = await self.backend.create(
            self.spec(sandbox_id), self.output.append, self.output.append
        )

    async def start(self) -> None:
        await self.sandbox.start()

    async def destroy(self) -> None:
        if self.sandbox is not None:
            await self.sandbox.destroy()
            self.sandbox = None

    def connect(self, deadline_s: float = 20.0) -> socket.socket:
        """A socket connected to 127.0.0.1:8080 inside the sandbox (made inside its network namespace)."""
        netns_fd = self.sandbox._namespace.fd
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                return _connect_in_netns(netns_fd, 8080)
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)


def _connect_in_netns(netns_fd: int, port: int) -> socket.socket:
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        home = open("/proc/thread-self/ns/net")  # noqa: SIM115
        try:
            syscalls.setns(netns_fd, CLONE_NEWNET)
            sock = socket.socket()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.connect(("127.0.0.1", port))
            except BaseException:
                sock.close()
                raise
            result.append(sock)
        except BaseException as exc:
            result.append(exc)
        finally:
            syscalls.setns(home.fileno(), CLONE_NEWNET)
            home.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def http_over(sock: socket.socket, host: str = "127.0.0.1") -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(host)
    conn.sock = sock
    return conn


def post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {data[:200]!r}")
    return data


# --- lambkin: the server, the function, a signed Invoke -------------------------------------------------


@contextmanager
def lambkin_server(env: dict[str, str] | None = None, name: str = "server") -> Iterator[LambkinServer]:
    """A fresh `lambkin server` (what a previous run left in its data directory is cleaned up first)."""
    data = WORK / name / "data"
    if data.exists():
        asyncio.run(RuncBackend(data).cleanup_leftovers())
        shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    server = LambkinServer(data, env=env).start()
    try:
        yield server
    finally:
        server.stop()


def create_function(server: LambkinServer, name: str, image_uri: str, **extra: Any) -> Any:
    from botocore.config import Config

    lam = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    lam.create_function(
        FunctionName=name,
        Role=execution_role(server.endpoint),
        PackageType="Image",
        Code={"ImageUri": image_uri},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return lam


def signed_invoke(
    server: LambkinServer, name: str, body: bytes, key: tuple[str, str, str | None] | None = None
) -> tuple[str, dict[str, str]]:
    """The path and headers of a SigV4-signed Invoke request (valid for minutes; reused as is), signed with
    the server's key pair (the account root) or `key` (access key ID, secret, session token)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

    path = f"/2015-03-31/functions/{name}/invocations"
    request = AWSRequest(
        "POST", server.endpoint + path, data=body, headers={"Content-Type": "application/json"}
    )
    access_key_id, secret, token = key or (ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
    SigV4Auth(Credentials(access_key_id, secret, token), "lambda", REGION).add_auth(request)
    headers = {k: v for k, v in request.headers.items()}
    headers["Host"] = f"127.0.0.1:{server.port}"
    return path, headers


def lambkin_connection(server: LambkinServer) -> http.client.HTTPConnection:
    return local_connection(server.port)


def local_connection(port: int) -> http.client.HTTPConnection:
    """A keep-alive client connection to 127.0.0.1:`port`, each request sent at once (TCP_NODELAY)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return http_over(sock)


def ready_port(process: subprocess.Popen[str]) -> int:
    """The port a helper process announces on its first line ("ready PORT": bench.relay_floor,
    bench.byte_relay), or RuntimeError if it ends first."""
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "ready":
        raise RuntimeError(f"{process.args} did not start (exit {process.wait()}); it printed {line!r}")
    return int(line[1])


def timed(call: Callable[[], bytes], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def creds() -> tuple[str, str]:
    """The test server's access key pair (what `tests.images.push` signs its registry pushes with)."""
    from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    return ACCESS_KEY_ID, SECRET_ACCESS_KEY


def role_session(server: LambkinServer, role_name: str, policies: list[str]) -> tuple[str, str, str]:
    """Temporary credentials (key ID, secret, token) of a new role with these inline policies, assumed by a
    new IAM user its trust policy names (the root may not assume roles)."""
    import boto3

    iam = server.client("iam")
    assumer_name = f"{role_name}-assumer"
    iam.create_user(UserName=assumer_name)
    key = iam.create_access_key(UserName=assumer_name)["AccessKey"]
    assumer = iam.get_user(UserName=assumer_name)["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": assumer}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    for number, document in enumerate(policies):
        iam.put_role_policy(RoleName=role_name, PolicyName=f"p{number}", PolicyDocument=document)
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bench")["Credentials"]
    return session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
