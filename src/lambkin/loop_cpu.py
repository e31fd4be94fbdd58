"""The event loop's own core: the server's loop thread is pinned to one CPU, functions' sandboxes keep off it.

On a warm invoke, the caller, lambkin's loop and the function's runtime take turns (docs/design/warm-invoke.md).
Left to the scheduler, the loop follows whichever CPU is idle when a socket wakes it and refills its caches
there; the loop is the largest working set of the three, so it pays most for that. Pinned, it stays on one
core while the runtime and the caller run on the others: `bench.warm_invoke` measured lambkin at 0.82-0.87
of the emulator pinned against 1.09-1.35 left free, alternating in the same runs (a 2-vCPU VM; HAProxy's
`cpu-map` and nginx's `worker_cpu_affinity` make the same choice).

A CPU mask is inherited by whatever a thread starts, so the loop thread widens its own mask back to the
process's CPUs for the instant it starts a thread or a process (`unpinned`), a pool's threads, which it
starts lazily, widen theirs as their first step (`release_thread`), and libuv's pool is started at once
(`start_pools`): the store's writer and every worker thread run on any CPU, the loop alone is held (and a
function's sandbox is held by its cgroup's CPU set, below).

`LAMBKIN_LOOP_CPU`: `auto` (the default) claims the highest-numbered CPU no other lambkin server on this host
holds (a lock file per CPU under /run/lambkin, so nodes sharing a host spread out) and pins nothing when the
process may use a single CPU or every CPU is claimed; a number pins that CPU; `off` pins nothing.

The functions' sandboxes keep off the loop's CPU (`LAMBKIN_SANDBOX_CPUS`, `sandbox_cpus`): left free, the
kernel wakes a runtime on the CPU of the loop that wrote its event (a socket's wake-up favours the waker's
CPU), and then the two take turns on one core while the other idles. On the 2-vCPU VM `bench.warm_invoke`
read lambkin's p50 at 0.27-0.29 ms with the runtime left free and 0.21-0.24 with it kept off the loop's CPU;
pinned by hand, the runtime on the loop's CPU read 0.31-0.46 ms, beside it 0.22. `auto` (the default): every
CPU the process may use but the pinned loop's (every CPU when nothing is pinned); `all`: every CPU; or a
list in the kernel's format (`0-2,5`). A boosted init still runs on every CPU (it is rare and CPU-bound:
`bench.cold_burst`, 12 inits of 3 s at once on two CPUs, read 1.99 of its ideal with inits held off the
loop's CPU, 1.01 with them on all); the set applies from the end of init, with the proportional quota. Under
`auto` a function whose memory buys more vCPUs than those CPUs hold (3,538 MB, two vCPUs, on a host of two)
runs on every CPU, the loop's too, as Lambda sizes compute by memory; an operator's list holds every function.

Whether the loop has its core to itself shows in how long it waits for it once woken (`CoreWait`: the
scheduler's run delay per time slice of the loop thread, /proc/thread-self/schedstat, sampled by the pools'
housekeeping). The Runtime API asks it which of its two writes comes first when a runtime answers: the
caller's answer while the core is prompt, the runtime's 202 while the loop waits for it (runtime_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR = Path("/run/lambkin/loop-cpu")
_RUN = re.compile(r"(\d+)(?:-(\d+))?")  # one item of a CPU list: 3 or 0-2
SCHEDSTAT = Path("/proc/thread-self/schedstat")  # on-CPU ns, run-queue wait ns, time slices

_everyone: frozenset[int] | None = None  # the process's CPUs, once the loop thread is pinned
_loop: tuple[int, int] | None = None  # the pinned thread's ident and its CPU
_widened = 0  # `unpinned` blocks open on the loop thread (a spawn may span an await: they can interleave)


@dataclass(frozen=True)
class SandboxCpus:
    """The CPUs functions' invocations run on. `held`: an operator's list, which every function keeps to;
    else (`auto`) the CPUs beside the loop's, which a function whose memory buys more vCPUs than they hold
    leaves for every CPU (sandbox/oci.py, `steady_share`)."""

    cpus: frozenset[int]
    held: bool


class LoopCpuInvalid(ValueError):
    """LAMBKIN_LOOP_CPU or LAMBKIN_SANDBOX_CPUS names no CPU this process may use, or is not understood."""


@dataclass(frozen=True)
class Pinned:
    """The loop thread's CPU and the lock that claims it on this host (None: not coordinated)."""

    cpu: int
    lock_fd: int | None


def parse(raw: str) -> str | int:
    """`auto`, `off` or a CPU number, from LAMBKIN_LOOP_CPU's text."""
    text = raw.strip().lower() or "auto"
    if text in ("auto", "off"):
        return text
    if text.isdigit():
        return int(text)
    raise LoopCpuInvalid(f"LAMBKIN_LOOP_CPU must be auto, off or a CPU number, not {raw!r}")


def parse_sandbox_cpus(raw: str) -> str | frozenset[int]:
    """`auto`, `all` or a set of CPUs, from LAMBKIN_SANDBOX_CPUS's text (a list such as `0-2,5`)."""
    text = raw.strip().lower() or "auto"
    if text in ("auto", "all"):
        return text
    cpus: set[int] = set()
    for item in text.split(","):
        run = _RUN.fullmatch(item.strip())
        if run is None or int(run[2] or run[1]) < int(run[1]):
            raise LoopCpuInvalid(
                f"LAMBKIN_SANDBOX_CPUS must be auto, all or a list of CPUs such as 0-2,5, not {raw!r}"
            )
        cpus.update(range(int(run[1]), int(run[2] or run[1]) + 1))
    return frozenset(cpus)


def sandbox_cpus(setting: str | frozenset[int]) -> SandboxCpus | None:
    """The CPUs functions' invocations run on, None for every one: under `auto` the process's CPUs but the
    pinned loop's (every CPU when nothing is pinned); a set of CPUs must be ones this process may use."""
    if setting == "all":
        return None
    if isinstance(setting, frozenset):
        allowed = _everyone or frozenset(os.sched_getaffinity(0))
        if not setting <= allowed:
            raise LoopCpuInvalid(
                f"LAMBKIN_SANDBOX_CPUS={cpu_list(setting)}: this process may use CPUs {cpu_list(allowed)} only"
            )
        return SandboxCpus(setting, held=True)
    if _loop is None or _everyone is None:
        return None
    beside = _everyone - {_loop[1]}
    return SandboxCpus(beside, held=False) if beside else None


def cpu_list(cpus: Iterable[int]) -> str:
    """A set of CPUs in the kernel's list format (runs joined with '-': `0-2,5`)."""
    runs: list[tuple[int, int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cpu)
        else:
            runs.append((cpu, cpu))
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)


def candidates(setting: str | int, allowed: Iterable[int]) -> list[int]:
    """The CPUs to try, in order: the one named, or under `auto` the allowed ones from the highest down
    (CPU 0 takes most of the host's interrupts); none when off or when a single CPU is allowed."""
    cpus = sorted(set(allowed), reverse=True)
    if setting == "off":
        return []
    if isinstance(setting, int):
        if setting not in cpus:
            raise LoopCpuInvalid(f"LAMBKIN_LOOP_CPU={setting}: this process may use CPUs {sorted(cpus)} only")
        return [setting]
    return cpus if len(cpus) > 1 else []


def pin(setting: str | int, lock_dir: Path = LOCK_DIR) -> Pinned | None:
    """Pins the calling thread (the event loop's) to the CPU named, or under `auto` to the first of
    `candidates` it can claim; returns what it holds (the lock lives as long as the process), or None when
    nothing is pinned."""
    global _everyone, _loop
    allowed = frozenset(os.sched_getaffinity(0))
    for cpu in candidates(setting, allowed):
        try:
            fd = None if setting == cpu else _claim(lock_dir, cpu)
        except BlockingIOError:
            continue  # another server's loop holds it
        os.sched_setaffinity(0, {cpu})
        _everyone, _loop = allowed, (threading.get_ident(), cpu)
        log.debug("event loop pinned to CPU %d (LAMBKIN_LOOP_CPU)", cpu)  # stderr holds errors alone
        return Pinned(cpu, fd)
    return None


def _claim(lock_dir: Path, cpu: int) -> int | None:
    """The CPU's lock file, held: its descriptor (not inherited by children), or None when there is nowhere
    to keep locks (the CPU is taken unclaimed). BlockingIOError: another server holds it."""
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_dir / f"{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    return fd


def release(pinned: Pinned | None) -> None:
    """Back to every CPU, the claim given up (a server that stops without its process ending)."""
    global _everyone, _loop
    if pinned is None:
        return
    if _everyone is not None:
        os.sched_setaffinity(0, _everyone)
        _everyone, _loop = None, None
    if pinned.lock_fd is not None:
        os.close(pinned.lock_fd)


def release_thread() -> None:
    """A thread started by the pinned loop thread: back to the process's CPUs (a pool's initializer)."""
    if _everyone is not None:
        os.sched_setaffinity(0, _everyone)


@contextlib.contextmanager
def unpinned() -> Iterator[None]:
    """Around starting a thread or a process from the loop thread: what it starts inherits every CPU (the
    loop thread is held again when the last such block ends). Elsewhere, and when nothing is pinned, a no-op."""
    global _widened
    loop, everyone = _loop, _everyone
    if loop is None or everyone is None or threading.get_ident() != loop[0]:
        yield
        return
    if _widened == 0:
        os.sched_setaffinity(0, everyone)
    _widened += 1
    try:
        yield
    finally:
        _widened -= 1
        if _widened == 0 and _loop == loop:
            os.sched_setaffinity(0, {loop[1]})


async def start_pools() -> None:
    """The running loop's thread pools, on every CPU: asyncio's default executor (its threads are started
    lazily, by the loop thread) and libuv's own (uvloop's name lookups; all its threads start on first use,
    made here)."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(thread_pool(thread_name_prefix="asyncio"))
    with unpinned():
        await loop.getaddrinfo("127.0.0.1", 0)


def thread_pool(max_workers: int | None = None, thread_name_prefix: str = "") -> ThreadPoolExecutor:
    """A ThreadPoolExecutor whose threads run on every CPU, even when started from the pinned loop."""
    return ThreadPoolExecutor(max_workers, thread_name_prefix, initializer=release_thread)


class CoreWait:
    """How long the loop thread waits for a core once it is woken, and whether that is short (`prompt`).

    `sample()`, called on the loop thread now and then, reads the thread's schedstat: the time it spent
    runnable but waiting for a CPU, and its time slices, since the last sample. A wait per slice under
    `prompt_s` means the core is the loop's when it wants it. Measured on a 2-vCPU VM under `bench.warm_cpu`:
    about 20 µs quiet, 330 µs with a CPU-bound process per CPU beside it. Fewer than `min_slices` slices
    between two samples (an idle loop) leave the verdict as it was; before the first verdict, and where
    schedstat cannot be read, the core is not taken for prompt."""

    def __init__(self, prompt_s: float = 100e-6, min_slices: int = 50, source: Path = SCHEDSTAT) -> None:
        self.prompt = False
        self.prompt_s = prompt_s
        self.min_slices = min_slices
        self.source = source
        self._last: tuple[int, int] | None = None  # run-queue wait (ns) and slices at the last sample

    def sample(self) -> None:
        try:
            fields = self.source.read_text().split()
            waited, slices = int(fields[1]), int(fields[2])
        except (OSError, IndexError, ValueError):
            return  # no schedstat here (or not the kernel's format): the verdict stays as it is
        last, self._last = self._last, (waited, slices)
        if last is None or slices - last[1] < max(self.min_slices, 1):
            return
        self.prompt = (waited - last[0]) / (slices - last[1]) < self.prompt_s * 1e9
