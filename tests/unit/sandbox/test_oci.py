"""config.json for a SandboxSpec: limits, user, isolation, mounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambkin.loop_cpu import SandboxCpus
from lambkin.sandbox import oci
from lambkin.sandbox.spec import SandboxSpec


def config(cpus: SandboxCpus | None = None, **fields: Any) -> dict[str, Any]:
    spec = SandboxSpec(
        id="s", lower_dirs=(Path("/l"),), args=("/bootstrap", "h"), env=(("A", "1"),), **fields
    )
    return oci.config(
        spec,
        rootfs="/b/rootfs",
        tmp="/b/tmp",
        netns_path="/proc/1/fd/7",
        cgroups_path="/lambkin/x/s",
        host_cores=2,
        cpus=cpus,
    )


@pytest.mark.parametrize(
    ("memory_mb", "cores", "quota"),
    [
        (1769, 2, 100_000),
        (128, 2, 7_235),
        (3538, 2, 200_000),
        (10_240, 2, 200_000),
        (10_240, 8, 578_858),
        (1, 4, 1_000),
    ],
)
def test_cpu_is_proportional_to_memory_and_capped_at_the_host(memory_mb: int, cores: int, quota: int) -> None:
    assert oci.cpu_quota_us(memory_mb, cores) == quota


def test_limits() -> None:
    resources = config(memory_mb=256, pids_limit=100)["linux"]["resources"]
    assert resources["memory"] == {"limit": 256 << 20, "swap": 256 << 20}
    assert resources["pids"] == {"limit": 100}
    assert resources["cpu"] == {"quota": 14_471, "period": 100_000}  # on every CPU


def test_a_cpu_set_is_written_in_the_kernels_list_format() -> None:
    cpu = config(cpus=SandboxCpus(frozenset({0, 1, 2, 5}), held=False), memory_mb=256)["linux"]["resources"][
        "cpu"
    ]
    assert cpu == {"quota": 14_471, "period": 100_000, "cpus": "0-2,5"}


def test_a_boosted_init_runs_on_every_cpu_and_invocations_on_the_set() -> None:
    held = SandboxCpus(frozenset({0}), held=True)
    cpu = config(cpus=held, memory_mb=3538, init_cpu_boost=True)["linux"]["resources"]["cpu"]
    assert cpu == {"quota": 200_000, "period": 100_000}  # every core of the host, on every CPU
    assert oci.steady_share(3538, 2, held) == oci.CpuShare(100_000, "0")  # capped at the set
    assert oci.steady_share(3538, 2, None) == oci.CpuShare(200_000, None)


def test_under_auto_a_function_whose_memory_buys_more_cpus_than_the_set_runs_on_every_cpu() -> None:
    beside = SandboxCpus(frozenset({0, 1, 2}), held=False)  # a host of four, the loop on CPU 3
    assert oci.steady_share(1769, 4, beside) == oci.CpuShare(100_000, "0-2")
    assert oci.steady_share(5307, 4, beside) == oci.CpuShare(
        300_000, "0-2"
    )  # three vCPUs: the set holds them
    assert oci.steady_share(5308, 4, beside) == oci.CpuShare(300_056, None)  # a bit more: every CPU
    assert oci.steady_share(10240, 4, beside) == oci.CpuShare(400_000, None)  # capped at the host
    held = SandboxCpus(frozenset({0, 1, 2}), held=True)  # an operator's list holds every function
    assert oci.steady_share(10240, 4, held) == oci.CpuShare(300_000, "0-2")
    cpu = config(cpus=SandboxCpus(frozenset({0}), held=False), memory_mb=3538)["linux"]["resources"]["cpu"]
    assert cpu == {"quota": 200_000, "period": 100_000}  # two vCPUs on a host of two: no set


def test_process_is_unprivileged() -> None:
    process = config(uid=993, gid=990, nofile_limit=1024)["process"]
    assert process["user"] == {"uid": 993, "gid": 990}
    assert process["noNewPrivileges"] is True
    assert process["terminal"] is False
    assert all(caps == [] for caps in process["capabilities"].values())
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert (process["args"], process["env"]) == (["/bootstrap", "h"], ["A=1"])


def test_root_is_read_only_and_tmp_is_the_bundles_disk_file_system() -> None:
    c = config(tmp_size_mb=512)
    assert c["root"] == {"path": "/b/rootfs", "readonly": True}
    tmp = next(m for m in c["mounts"] if m["destination"] == "/tmp")
    assert (tmp["type"], tmp["source"]) == ("bind", "/b/tmp")
    assert {"nosuid", "nodev"} <= set(tmp["options"])


def test_joins_lambkins_network_namespace_and_makes_the_others() -> None:
    linux = config()["linux"]
    namespaces = {ns["type"]: ns.get("path") for ns in linux["namespaces"]}
    assert namespaces == {
        "pid": None,
        "network": "/proc/1/fd/7",
        "ipc": None,
        "uts": None,
        "mount": None,
        "cgroup": None,
    }
    assert linux["cgroupsPath"] == "/lambkin/x/s"


def test_kernel_paths_are_masked_and_dangerous_syscalls_denied() -> None:
    linux = config()["linux"]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = linux["seccomp"]["syscalls"][0]["names"]
    assert {"mount", "unshare", "setns", "kexec_load", "bpf", "init_module"} <= set(denied)


def test_a_boosted_init_starts_with_every_host_core() -> None:
    assert config(memory_mb=128, init_cpu_boost=True)["linux"]["resources"]["cpu"]["quota"] == 200_000
