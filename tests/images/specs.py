"""The catalogue of test images: each one's base, its top layer of files, and its image config."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tests.images.cache import LAYERS


class Base(Enum):
    """The shared bottom layer an image is built on."""

    PYTHON = "python-base"  # Debian bookworm minbase + python3 + curl + awslambdaric
    BUSYBOX = "busybox-base"  # the static busybox alone


PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAMBDA_ENV = ("LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime", "LANG=C.UTF-8", f"PATH={PATH}")
RIC = ("/usr/bin/python3", "-m", "awslambdaric")
RIE = "/usr/local/bin/aws-lambda-rie"


@dataclass(frozen=True)
class ImageSpec:
    """One image: a base, the trees under layers/ copied on top (one small layer), and the config."""

    name: str
    base: Base
    layers: tuple[str, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    workdir: str = "/var/task"
    env: tuple[str, ...] = LAMBDA_ENV
    with_rie: bool = False  # adds /usr/local/bin/aws-lambda-rie

    def layer_dirs(self) -> list[str]:
        return [str(LAYERS / layer) for layer in self.layers]


# Handlers of the python-handlers image, by purpose: pass one as ImageConfig.Command, e.g. ["app.error"].
PYTHON_HANDLERS = {
    "echo": "app.echo",  # returns the event
    "error": "app.error",  # raises ValueError(event["message"])
    "timeout": "app.timeout",  # sleeps event["seconds"] (default 30)
    "crash": "app.crash",  # os._exit(event["code"]) or, with {"signal": "KILL"}, kills itself
    "oom": "app.oom",  # allocates and touches memory until killed
    "slow_init": "slow_init.handler",  # sleeps $SLOW_INIT_SECONDS (default 5) at import, then echoes
    "busy_init": "busy_init.handler",  # burns $BUSY_INIT_SECONDS (default 2) of CPU at import, then echoes
    "import_error": "import_error.handler",  # its module raises at import: Runtime.ImportModuleError
    "missing_module": "missing.handler",  # no such module
    "large_response": "app.large_response",  # a JSON string response of exactly event["size"] bytes
    "tmp_write": "app.tmp_write",  # writes, reads back and counts files in /tmp
    "root_write": "app.root_write",  # tries to write to / and /var/task and reports the errors
    "env": "app.env",  # os.environ, uid, gid, groups, cwd, argv, pid, hostname
    "network": "app.network",  # tries to connect to event["host"]:event["port"] and reports how it went
    "context": "app.context",  # the LambdaContext's fields
    "log": "app.log",  # prints event["lines"] to stdout and event["stderr"] to stderr, returns counts
    "flood": "app.flood",  # writes event["megabytes"] MB to stdout at once, numbered lines of event["width"]
    "state": "app.state",  # per-environment state: invocation count, pid, init time (warm reuse)
    "batch_report": "batch.report",  # SQS batch: records whose body contains "fail" in batchItemFailures
    "batch_strict": "batch.strict",  # SQS batch: raises when any body contains "fail"
    "batch_show": "batch.show",  # SQS batch: prints "EVENT <json>" to the log and succeeds
}

# Handlers of the shell custom runtimes (shell-runtime with curl, busybox with wget), as their CMD.
SHELL_HANDLERS = {
    "echo": "echo",  # posts the event back
    "error": "error",  # posts to /error with Lambda-Runtime-Function-Error-Type
    "init_error": "init_error",  # posts to /init/error and exits
    "exit": "exit",  # exits 3 while handling an event
    "sleep": "sleep",  # sleeps $SLEEP_SECONDS (default 30), then echoes
    "env": "env",  # returns `env` output as a JSON string
}

IMAGES: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in (
        ImageSpec("python-echo", Base.PYTHON, ("python-echo",), RIC, ("app.handler",)),
        ImageSpec("python-handlers", Base.PYTHON, ("python-handlers",), RIC, ("app.echo",)),
        ImageSpec(
            "python-echo-rie", Base.PYTHON, ("python-echo",), (RIE, *RIC), ("app.handler",), with_rie=True
        ),
        ImageSpec("shell-runtime", Base.PYTHON, ("shell-runtime",), ("/var/runtime/bootstrap",), ("echo",)),
        ImageSpec("busybox", Base.BUSYBOX, ("busybox",), ("/var/runtime/bootstrap",), ("echo",)),
    )
}

# Web application images (Django and FastAPI behind Mangum), declared in webapps.py with their wheels.
from tests.images.webapps import WEB_APPS  # noqa: E402

IMAGES.update({spec.name: spec for spec in WEB_APPS})
