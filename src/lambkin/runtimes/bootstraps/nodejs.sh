#!/bin/sh
# lambkin's nodejs@VERSION@.x runtime: the runtime interface client runs the handler named by _HANDLER
# (or the first argument), with the function's code at $LAMBDA_TASK_ROOT and its layers at /opt.
handler="${1:-${_HANDLER:-}}"
if [ -z "$handler" ]; then
    echo "lambkin nodejs@VERSION@.x runtime: no handler (_HANDLER is not set)" >&2
    exit 1
fi
cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
exec /usr/bin/node /var/runtime/index.mjs "$handler"
