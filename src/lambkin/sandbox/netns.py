"""A sandbox's network namespace: made with unshare() in a worker thread, loopback up, listening sockets in it;
with an outward network, also its link to the host and the DNS forwarder's sockets on its 127.0.0.1:53.

No `ip netns` bind mount: lambkin holds the namespace by a file descriptor, runc joins it through
`/proc/<lambkin>/fd/<n>`, and the kernel frees it once that descriptor, the sockets and the container's
processes are gone, so a crashed lambkin leaves no namespace behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from typing import TYPE_CHECKING

from lambkin.network import dns
from lambkin.network.policy import Slot
from lambkin.sandbox import syscalls

if TYPE_CHECKING:
    from lambkin.network.dns import Serving
    from lambkin.network.outward import Outward

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_BACKLOG = 128


class NetworkNamespace:
    """An open network namespace and the listening sockets lambkin opened inside it, port -> socket; with an
    outward network, its slot (addresses), the DNS sockets and, once served, the forwarder serving them."""

    __slots__ = ("dns", "fd", "listeners", "serving", "slot")

    def __init__(
        self,
        fd: int,
        listeners: dict[int, socket.socket],
        slot: Slot | None = None,
        dns: tuple[socket.socket, socket.socket] | None = None,
    ) -> None:
        self.fd = fd
        self.listeners = listeners
        self.slot = slot
        self.dns = dns
        self.serving: Serving | None = None

    @property
    def path(self) -> str:
        """A path another process (runc) can open to join this namespace while lambkin holds `fd`."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        """From any thread: the forwarder, once serving, closes the DNS sockets itself, on its loop."""
        if self.serving is not None:
            self.serving.close()
            self.serving = None
            self.dns = None
        for listener in (*self.listeners.values(), *(self.dns or ())):
            listener.close()
        self.listeners.clear()
        self.dns = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _listen(port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def create(outward: Outward | None = None) -> NetworkNamespace:
    """Blocking, and it moves the calling thread between namespaces: call it in a thread of its own.

    A new namespace, its loopback up; with `outward`, linked to the host, with the DNS forwarder's sockets.
    The thread always returns to its original namespace; if it cannot, the error is raised and the thread
    must not run anything else (the caller's thread ends right after).
    """
    host = None
    if outward is not None:
        from pyroute2 import IPRoute  # imported once, when the first namespace of a networked server is made

        host = IPRoute()  # a netlink socket stays in the namespace it was made in: the host's
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        try:
            namespace = NetworkNamespace(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC), {})
            try:
                _loopback_up()
                if outward is not None and host is not None:
                    with IPRoute() as inside:
                        namespace.slot = outward.attach(inside, host, original)
                    udp = _listen(dns.PORT, socket.SOCK_DGRAM)
                    try:
                        namespace.dns = (udp, _listen(dns.PORT))
                    except BaseException:
                        udp.close()
                        raise
            except BaseException:
                namespace.close()
                raise
        finally:
            syscalls.setns(original, syscalls.CLONE_NEWNET)
    finally:
        os.close(original)
        if host is not None:
            host.close()
    return namespace


def listen(namespace: NetworkNamespace, ports: list[int]) -> None:
    """Blocking, and it moves the calling thread (call it in a thread of its own): listening sockets on
    127.0.0.1:`ports` inside the namespace, added to its `listeners`."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(namespace.fd, syscalls.CLONE_NEWNET)
        try:
            for port in ports:
                namespace.listeners[port] = _listen(port)
        finally:
            syscalls.setns(original, syscalls.CLONE_NEWNET)
    finally:
        os.close(original)


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
