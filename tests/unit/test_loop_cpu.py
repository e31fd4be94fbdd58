"""The event loop's own CPU (lambkin/loop_cpu.py): which CPU a server claims, and that what the pinned loop
thread starts (threads, processes, a pool's workers) runs on every CPU. Each test pins a thread of its own,
so pytest's own thread keeps its CPUs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from lambkin import loop_cpu
from lambkin.config import SettingInvalid, Settings, settings_from_environment

T = TypeVar("T")
ALL = frozenset(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(ALL) < 2, reason="pinning needs a process allowed two CPUs or more")


def in_thread(work: Callable[[], T]) -> T:
    """`work` in a fresh thread (its affinity is its own), its result or its exception returned here."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    return tmp_path / "loop-cpu"  # not the host's /run/lambkin: servers running beside the tests hold theirs


def affinity_of(tid: int) -> frozenset[int]:
    return frozenset(os.sched_getaffinity(tid))


def settings_with(tmp_path: Path, name: str, raw: str | None) -> Settings:
    """The server's settings with the variable `name` set to `raw` (None: unset)."""
    env = {"LAMBKIN_ACCESS_KEY_ID": "AKIDEXAMPLE", "LAMBKIN_SECRET_ACCESS_KEY": "secret"}
    if raw is not None:
        env[name] = raw
    return settings_from_environment(tmp_path, "127.0.0.1", 9000, env)[0]


def test_the_setting_is_auto_off_or_a_cpu_number(tmp_path: Path) -> None:
    def loop_cpu_of(raw: str | None) -> str | int:
        return settings_with(tmp_path, "LAMBKIN_LOOP_CPU", raw).loop_cpu

    assert loop_cpu_of(None) == "auto"
    assert loop_cpu_of("") == "auto"
    assert loop_cpu_of("OFF") == "off"
    assert loop_cpu_of(" 1 ") == 1
    with pytest.raises(
        SettingInvalid, match=r"^LAMBKIN_LOOP_CPU must be auto, off or a CPU number, not 'fast'$"
    ):
        loop_cpu_of("fast")
    with pytest.raises(SettingInvalid, match="LAMBKIN_LOOP_CPU"):
        loop_cpu_of("-1")


def test_sandbox_cpus_are_auto_all_or_a_list(tmp_path: Path) -> None:
    def sandbox_cpus_of(raw: str | None) -> str | frozenset[int]:
        return settings_with(tmp_path, "LAMBKIN_SANDBOX_CPUS", raw).sandbox_cpus

    assert sandbox_cpus_of(None) == "auto"
    assert sandbox_cpus_of(" ALL ") == "all"
    assert sandbox_cpus_of("0-2,5") == {0, 1, 2, 5}
    assert sandbox_cpus_of("3") == {3}
    for wrong in ("2-1", "0,", "a", "-1", "1-"):
        with pytest.raises(
            SettingInvalid,
            match=rf"^LAMBKIN_SANDBOX_CPUS must be auto, all or a list of CPUs such as 0-2,5, not '{wrong}'$",
        ):
            sandbox_cpus_of(wrong)
    assert loop_cpu.cpu_list({5, 0, 1, 2, 7, 8}) == "0-2,5,7-8"


def test_sandboxes_run_on_every_cpu_when_the_loop_is_not_pinned() -> None:
    assert loop_cpu.sandbox_cpus("auto") is None
    assert loop_cpu.sandbox_cpus("all") is None
    assert loop_cpu.sandbox_cpus(frozenset({min(ALL)})) == loop_cpu.SandboxCpus(
        frozenset({min(ALL)}), held=True
    )
    with pytest.raises(
        loop_cpu.LoopCpuInvalid, match=r"^LAMBKIN_SANDBOX_CPUS=4096: this process may use CPUs "
    ):
        loop_cpu.sandbox_cpus(frozenset({4096}))


@two_cpus
def test_sandboxes_keep_off_the_pinned_loops_cpu(lock_dir: Path) -> None:
    def pinned_loop() -> tuple[loop_cpu.SandboxCpus | None, loop_cpu.SandboxCpus | None]:
        pinned = loop_cpu.pin(max(ALL), lock_dir)
        try:
            return loop_cpu.sandbox_cpus("auto"), loop_cpu.sandbox_cpus("all")
        finally:
            loop_cpu.release(pinned)

    assert in_thread(pinned_loop) == (loop_cpu.SandboxCpus(ALL - {max(ALL)}, held=False), None)
    assert loop_cpu.sandbox_cpus("auto") is None  # released


def test_auto_tries_the_highest_cpu_first_and_pins_nothing_on_one_cpu() -> None:
    assert loop_cpu.candidates("auto", {0, 1, 2, 3}) == [3, 2, 1, 0]
    assert loop_cpu.candidates("auto", {5}) == []
    assert loop_cpu.candidates("off", {0, 1}) == []
    assert loop_cpu.candidates(0, {0, 1}) == [0]
    with pytest.raises(
        loop_cpu.LoopCpuInvalid, match=r"LAMBKIN_LOOP_CPU=7: this process may use CPUs \[0, 1\] only"
    ):
        loop_cpu.candidates(7, {0, 1})


@two_cpus
def test_auto_pins_the_loop_thread_to_a_cpu_no_other_server_holds(lock_dir: Path) -> None:
    highest = max(ALL)
    pinned, mine = in_thread(lambda: (loop_cpu.pin("auto", lock_dir), affinity_of(0)))
    try:
        assert mine == {highest}
        assert pinned is not None and pinned.cpu == highest
        # a second server on this host takes the next CPU down
        second = subprocess.run(
            [sys.executable, "-c", SECOND_SERVER, str(lock_dir)], capture_output=True, text=True, check=True
        )
        assert second.stdout.split() == [str(sorted(ALL)[-2]), str(sorted(ALL)[-2])]
    finally:
        loop_cpu.release(pinned)
    again = subprocess.run(
        [sys.executable, "-c", SECOND_SERVER, str(lock_dir)], capture_output=True, text=True
    )
    assert again.stdout.split()[0] == str(highest)  # released: the next server takes it


SECOND_SERVER = """
import os, sys
from pathlib import Path
from lambkin import loop_cpu
pinned = loop_cpu.pin("auto", Path(sys.argv[1]))
print(pinned.cpu, *sorted(os.sched_getaffinity(0)))
"""


@two_cpus
def test_every_cpu_claimed_pins_nothing(lock_dir: Path) -> None:
    held = [loop_cpu._claim(lock_dir, cpu) for cpu in ALL]
    try:
        assert in_thread(lambda: (loop_cpu.pin("auto", lock_dir), affinity_of(0))) == (None, ALL)
    finally:
        for fd in held:
            assert fd is not None
            os.close(fd)


@two_cpus
def test_a_cpu_named_is_pinned_even_if_another_server_claimed_it(lock_dir: Path) -> None:
    cpu = min(ALL)
    fd = loop_cpu._claim(lock_dir, cpu)
    try:

        def named() -> frozenset[int]:
            pinned = loop_cpu.pin(cpu, lock_dir)
            try:
                return affinity_of(0)
            finally:
                loop_cpu.release(pinned)

        assert in_thread(named) == {cpu}
    finally:
        assert fd is not None
        os.close(fd)


@two_cpus
def test_what_the_pinned_loop_starts_runs_on_every_cpu(lock_dir: Path) -> None:
    def pinned_loop() -> dict[str, object]:
        pinned = loop_cpu.pin(max(ALL), lock_dir)
        try:
            seen: dict[str, object] = {}
            # started plainly, a thread inherits the loop's one CPU: what `unpinned` is for
            seen["plain thread"] = in_thread(lambda: affinity_of(0))
            with loop_cpu.unpinned():
                seen["thread"] = in_thread(lambda: affinity_of(0))
                with loop_cpu.unpinned():  # blocks may overlap (spawns that span an await)
                    pass
                seen["inner block left"] = affinity_of(0)
                child = subprocess.run(
                    ["cat", "/proc/self/status"], capture_output=True, text=True, check=True
                )
            seen["process"] = next(
                line.split(":")[1].strip()
                for line in child.stdout.splitlines()
                if line.startswith("Cpus_allowed_list")
            )
            seen["loop after"] = affinity_of(0)
            pool = loop_cpu.thread_pool(2, "test")
            seen["pool"] = pool.submit(affinity_of, 0).result()
            pool.shutdown()
            return seen
        finally:
            loop_cpu.release(pinned)

    seen = in_thread(pinned_loop)
    assert seen["plain thread"] == {max(ALL)}
    assert seen["thread"] == ALL
    assert seen["inner block left"] == ALL
    assert seen["process"] == loop_cpu.cpu_list(ALL)
    assert seen["loop after"] == {max(ALL)}
    assert seen["pool"] == ALL


def test_unpinned_is_a_no_op_when_nothing_is_pinned() -> None:
    with loop_cpu.unpinned():
        assert affinity_of(0) == ALL
    assert affinity_of(0) == ALL


def _schedstat(path: Path, waited_ns: int, slices: int) -> None:
    path.write_text(f"123456 {waited_ns} {slices}\n")


def test_core_wait_judges_the_wait_per_slice_between_samples(tmp_path: Path) -> None:
    stat = tmp_path / "schedstat"
    core = loop_cpu.CoreWait(prompt_s=100e-6, min_slices=50, source=stat)
    _schedstat(stat, 0, 0)
    core.sample()
    assert not core.prompt  # one sample is no verdict: not prompt until one says so
    _schedstat(stat, 100 * 20_000, 100)  # 100 slices, 20 µs waited each: a core of its own
    core.sample()
    assert core.prompt
    _schedstat(stat, 100 * 20_000 + 100 * 330_000, 200)  # 330 µs each: others hold the core
    core.sample()
    assert not core.prompt
    _schedstat(stat, 100 * 20_000 + 100 * 330_000 + 10 * 1_000, 210)  # an idle loop: too few to judge
    core.sample()
    assert not core.prompt
    _schedstat(stat, 100 * 20_000 + 100 * 330_000 + 10 * 1_000 + 60 * 10_000, 270)
    core.sample()
    assert core.prompt


def test_core_wait_without_schedstat_keeps_its_verdict(tmp_path: Path) -> None:
    core = loop_cpu.CoreWait(source=tmp_path / "missing")
    core.sample()
    core.sample()
    assert not core.prompt
    (tmp_path / "missing").write_text("not the kernel's format\n")
    core.sample()
    assert not core.prompt


def test_core_wait_reads_the_calling_threads_schedstat() -> None:
    if not loop_cpu.SCHEDSTAT.exists():
        pytest.skip("no /proc/thread-self/schedstat here")
    core = loop_cpu.CoreWait(prompt_s=10.0, min_slices=1)  # any wait is prompt: only the reading is tested
    core.sample()
    for _ in range(5):
        time.sleep(0.001)  # each sleep ends a time slice of this thread
    core.sample()
    assert core.prompt
