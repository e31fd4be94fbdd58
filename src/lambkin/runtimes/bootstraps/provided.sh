#!/bin/bash
# lambkin's provided runtime: the function's own bootstrap, from its package or else from a layer. With none
# to run, it says so to the Runtime API as Lambda does (Runtime.InvalidEntrypoint), rather than just exiting.
task="${LAMBDA_TASK_ROOT:-/var/task}"

init_error() {  # $1: the message. POST /runtime/init/error over bash's /dev/tcp: the image has no curl.
    local body="{\"errorMessage\":\"$1\",\"errorType\":\"Runtime.InvalidEntrypoint\"}"
    local api="${AWS_LAMBDA_RUNTIME_API:-127.0.0.1:9001}"
    if exec 3<>"/dev/tcp/${api%:*}/${api##*:}"; then
        printf 'POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: %s\r\n%s\r\n%s\r\nContent-Length: %s\r\n\r\n%s' \
            "$api" "Lambda-Runtime-Function-Error-Type: Runtime.InvalidEntrypoint" \
            "Content-Type: application/json" "${#body}" "$body" >&3
        read -r _ <&3 # the answer: the platform has the error
    fi
    exit 1
}

for bootstrap in "$task/bootstrap" /opt/bootstrap; do
    if [ -e "$bootstrap" ]; then
        { [ -f "$bootstrap" ] && [ -x "$bootstrap" ]; } || init_error "fork/exec $bootstrap: permission denied"
        cd "$task" || exit 1
        exec "$bootstrap" "$@"
    fi
done
init_error "Couldn't find valid bootstrap(s): [$task/bootstrap /opt/bootstrap]"
