"""A sandbox's network namespace: made with unshare() in a worker thread, loopback up, listening sockets in it.

No `ip netns` bind mount: lambkin holds the namespace by a file descriptor, runc joins it through
`/proc/<lambkin>/fd/<n>`, and the kernel frees it once that descriptor, the sockets and the container's
processes are gone, so a crashed lambkin leaves no namespace behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from lambkin.sandbox import syscalls

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_BACKLOG = 128


class NetworkNamespace:
    """An open network namespace and the listening sockets lambkin opened inside it, port -> socket."""

    __slots__ = ("fd", "listeners")

    def __init__(self, fd: int, listeners: dict[int, socket.socket]) -> None:
        self.fd = fd
        self.listeners = listeners

    @property
    def path(self) -> str:
        """A path another process (runc) can open to join this namespace while lambkin holds `fd`."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def create(ports: list[int]) -> NetworkNamespace:
    """Blocking, and it moves the calling thread between namespaces: call it in a thread of its own.

    The thread always returns to its original namespace; if it cannot, the error is raised and the thread
    must not run anything else (the caller's thread ends right after).
    """
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        try:
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            listeners: dict[int, socket.socket] = {}
            try:
                _loopback_up()
                for port in ports:
                    listeners[port] = _listen(port)
            except BaseException:
                NetworkNamespace(fd, listeners).close()
                raise
        finally:
            syscalls.setns(original, syscalls.CLONE_NEWNET)
    finally:
        os.close(original)
    return NetworkNamespace(fd, listeners)


def connect(fd: int, port: int) -> socket.socket:
    """Blocking, and it moves the calling thread (call it in a thread of its own): a TCP connection to
    127.0.0.1:`port` inside the namespace `fd`, e.g. to a server the sandboxed process runs."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            syscalls.setns(original, syscalls.CLONE_NEWNET)
    finally:
        os.close(original)
    try:
        sock.connect(("127.0.0.1", port))  # the socket keeps its namespace: connect outside the setns
    except BaseException:
        sock.close()
        raise
    return sock
