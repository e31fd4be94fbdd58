"""Seccomp in a real sandbox: no new namespaces through clone or clone3, no io_uring; fork and threads work."""

from __future__ import annotations

import json
from pathlib import Path

from lambkin.sandbox.runc import RuncBackend
from tests.security.sandboxes import needs_runc, run_python

pytestmark = needs_runc

# Each probe prints the errno name its syscall failed with, or "created" when it succeeded.
PROBES = """
import ctypes, errno, json, os, platform, signal

SYS = {"x86_64": {"clone": 56, "clone3": 435, "io_uring_setup": 425},
       "aarch64": {"clone": 220, "clone3": 435, "io_uring_setup": 425}}[platform.machine()]
CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def outcome(result):
    if result < 0:
        return errno.errorcode[ctypes.get_errno()]
    if result == 0:
        os._exit(0)  # the child of a clone that succeeded
    os.waitpid(result, 0)
    return "created"

def clone(flags):
    return outcome(libc.syscall(SYS["clone"], ctypes.c_ulong(flags | signal.SIGCHLD), None, None, None, None))

def clone3(flags):
    args = (ctypes.c_uint64 * 11)(flags, 0, 0, 0, signal.SIGCHLD)
    return outcome(libc.syscall(SYS["clone3"], ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args))))

def io_uring_setup():
    params = (ctypes.c_uint8 * 120)()
    fd = libc.syscall(SYS["io_uring_setup"], ctypes.c_uint(4), ctypes.byref(params))
    if fd >= 0:
        os.close(fd)
        return "created"
    return errno.errorcode[ctypes.get_errno()]

print(json.dumps({
    "clone user": clone(CLONE_NEWUSER),
    "clone net": clone(CLONE_NEWNET),
    "clone mount": clone(CLONE_NEWNS),
    "clone plain": clone(0),
    "clone3 user": clone3(CLONE_NEWUSER),
    "io_uring_setup": io_uring_setup(),
}))
"""


async def test_no_namespace_through_clone_clone3_answers_enosys_and_io_uring_is_denied(
    backend: RuncBackend, python_root: Path
) -> None:
    outcome = await run_python(backend, python_root, PROBES)
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == {
        "clone user": "EPERM",
        "clone net": "EPERM",
        "clone mount": "EPERM",
        "clone plain": "created",
        "clone3 user": "ENOSYS",
        "io_uring_setup": "EPERM",
    }


async def test_fork_threads_and_subprocesses_still_work(backend: RuncBackend, python_root: Path) -> None:
    outcome = await run_python(
        backend,
        python_root,
        """
        import os, subprocess
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as pool:
            squares = sum(pool.map(lambda n: n * n, range(100)))
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        echoed = subprocess.run(["echo", "spawned"], capture_output=True, text=True, check=True).stdout
        print(squares, os.waitstatus_to_exitcode(status), echoed.strip())
        """,
    )
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.split() == ["328350", "7", "spawned"]
