#!/bin/sh
# lambkin's provided runtime: the function's own bootstrap, from its package or else from a layer.
for bootstrap in "${LAMBDA_TASK_ROOT:-/var/task}/bootstrap" /opt/bootstrap; do
    if [ -f "$bootstrap" ] && [ -x "$bootstrap" ]; then
        cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
        exec "$bootstrap" "$@"
    fi
done
echo "Couldn't find valid bootstrap(s): [${LAMBDA_TASK_ROOT:-/var/task}/bootstrap /opt/bootstrap]" >&2
exit 127
