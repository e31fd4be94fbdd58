"""python-handlers: one image, many handlers (select one with CMD / ImageConfig.Command, e.g. app.error)."""

import os
import signal
import socket
import sys
import time
from typing import Any

INIT_TIME = time.time()
INVOCATIONS = 0


def _arg(event: Any, key: str, default: Any) -> Any:
    return event.get(key, default) if isinstance(event, dict) else default


def echo(event: Any, context: Any) -> Any:
    return event


class HandlerError(Exception):
    """The error the `error` handler raises: the caller sees errorType HandlerError."""


def error(event: Any, context: Any) -> Any:
    raise HandlerError(_arg(event, "message", "failed on purpose"))


def timeout(event: Any, context: Any) -> Any:
    seconds = float(_arg(event, "seconds", 30))
    time.sleep(seconds)
    return {"slept": seconds}


def crash(event: Any, context: Any) -> Any:
    sys.stdout.flush()
    if _arg(event, "signal", None) is not None:
        os.kill(os.getpid(), getattr(signal, f"SIG{_arg(event, 'signal', 'KILL')}"))
        time.sleep(5)
    os._exit(int(_arg(event, "code", 1)))


def oom(event: Any, context: Any) -> Any:
    chunk = int(_arg(event, "chunk_mb", 16)) << 20
    hoard = []
    while True:
        hoard.append(b"x" * chunk)  # bytes built by repetition are written, so really resident


def large_response(event: Any, context: Any) -> Any:
    """A string whose JSON encoding is exactly event["size"] bytes (quotes included)."""
    return "a" * max(int(_arg(event, "size", 1024)) - 2, 0)


def tmp_write(event: Any, context: Any) -> Any:
    size = int(_arg(event, "size", 1024))
    path = os.path.join("/tmp", _arg(event, "name", "lambkin-tmp-write"))
    existed = os.path.exists(path)
    data = os.urandom(size)
    with open(path, "wb") as handle:
        handle.write(data)
    with open(path, "rb") as handle:
        read_back = handle.read() == data
    stat = os.statvfs("/tmp")
    return {
        "path": path,
        "existed_before": existed,
        "written": size,
        "read_back": read_back,
        "files": sorted(os.listdir("/tmp")),
        "tmp_total_bytes": stat.f_blocks * stat.f_frsize,
        "tmp_free_bytes": stat.f_bavail * stat.f_frsize,
    }


def root_write(event: Any, context: Any) -> Any:
    results = {}
    for path in _arg(
        event, "paths", ["/lambkin-root-write", "/var/task/lambkin-write", "/etc/lambkin-write"]
    ):
        try:
            with open(path, "w") as handle:
                handle.write("written")
            results[path] = {"ok": True}
        except OSError as exc:
            results[path] = {"ok": False, "errno": exc.errno, "error": exc.strerror}
    return results


def env(event: Any, context: Any) -> Any:
    return {
        "environ": dict(os.environ),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "euid": os.geteuid(),
        "groups": os.getgroups(),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "cpus": sorted(os.sched_getaffinity(0)),
    }


def network(event: Any, context: Any) -> Any:
    host = _arg(event, "host", "127.0.0.1")
    port = int(_arg(event, "port", 80))
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=float(_arg(event, "timeout", 2))) as sock:
            payload = _arg(event, "send", None)
            received = None
            if payload is not None:
                sock.sendall(payload.encode())
                received = sock.recv(4096).decode(errors="replace")
        return {"connected": True, "received": received, "seconds": time.monotonic() - started}
    except OSError as exc:
        return {
            "connected": False,
            "error": type(exc).__name__,
            "errno": exc.errno,
            "message": str(exc),
            "seconds": time.monotonic() - started,
        }


def context(event: Any, context: Any) -> Any:
    client = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": getattr(context, "tenant_id", None),
        "client_context": None
        if client is None
        else {
            "client": _fields(getattr(client, "client", None), CLIENT_FIELDS),
            "custom": getattr(client, "custom", None),
            "env": getattr(client, "env", None),
        },
        "identity": _fields(context.identity, ("cognito_identity_id", "cognito_identity_pool_id")),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }


CLIENT_FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    return None if value is None else {name: getattr(value, name, None) for name in names}


def log(event: Any, context: Any) -> Any:
    lines = _arg(event, "lines", ["hello from the log handler"])
    errors = _arg(event, "stderr", [])
    for line in lines:
        print(line, flush=True)
    for line in errors:
        print(line, file=sys.stderr, flush=True)
    return {"stdout": len(lines), "stderr": len(errors)}


def state(event: Any, context: Any) -> Any:
    global INVOCATIONS
    INVOCATIONS += 1
    return {"invocations": INVOCATIONS, "pid": os.getpid(), "init_time": INIT_TIME}


def flood(event: Any, context: Any) -> Any:
    """Writes event["megabytes"] MB to stdout at once: lines of event["width"] bytes (100), numbered from 0."""
    width = _arg(event, "width", 100)
    lines = _arg(event, "megabytes", 100) * 1024 * 1024 // width
    filler = b"x" * (width - 11)
    step = max(1, (1 << 20) // width)  # lines a write
    for first in range(0, lines, step):
        block = b"".join(b"%09d %s\n" % (n, filler) for n in range(first, min(first + step, lines)))
        view = memoryview(block)
        while view:
            view = view[os.write(1, view) :]
    return {"lines": lines}
