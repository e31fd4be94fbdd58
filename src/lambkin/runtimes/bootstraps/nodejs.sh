#!/bin/sh
# lambkin's nodejs@VERSION@.x runtime: the runtime interface client runs the handler named by _HANDLER
# (or the first argument), with the function's code at $LAMBDA_TASK_ROOT and its layers at /opt.
handler="${1:-${_HANDLER:-}}"
if [ -z "$handler" ]; then
    echo "lambkin nodejs@VERSION@.x runtime: no handler (_HANDLER is not set)" >&2
    exit 1
fi
# V8's heap sized from the function's memory as Lambda's Node.js runtimes size it: a tenth for the young
# generation (two semi-spaces), the rest for the old one; so V8 collects before the sandbox's memory limit
# kills it, rather than growing towards its own default limit of gigabytes.
heap=""
memory="${AWS_LAMBDA_FUNCTION_MEMORY_SIZE:-}"
if [ -n "$memory" ]; then
    young=$((memory / 10))
    heap="--max-semi-space-size=$((young / 2)) --max-old-space-size=$((memory - young))"
fi
cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
# shellcheck disable=SC2086 # $heap is two flags or none
exec /usr/bin/node --expose-gc --max-http-header-size 81920 $heap /var/runtime/index.mjs "$handler"
