"""A handler for the managed Python runtimes' tests: what the runtime gave it."""

import os
import sys


def handler(event, context):
    names = ("AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER")
    return {
        "event": event,
        "python": "{}.{}".format(*sys.version_info[:2]),
        "path": sys.path,
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in names},
        "request_id": context.aws_request_id,
    }
