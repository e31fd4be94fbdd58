"""The runc bundle's config.json for one SandboxSpec: a pure function of the spec and the host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambkin.loop_cpu import SandboxCpus, cpu_list
from lambkin.sandbox.spec import SandboxSpec

MB_PER_VCPU = 1769
CPU_PERIOD_US = 100_000

# runc's defaults (`runc spec`).
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
ROOT_CAPABILITIES = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

# Allowed by default; these fail with EPERM, as in the container engines' default profile for a process
# without CAP_SYS_ADMIN: kernel modules and kexec, mounts and namespaces, clocks, swap, reboot, BPF, perf,
# keyrings, handles that escape a mount, userfaultfd, accounting, raw I/O ports, io_uring (whose rings
# bypass seccomp), the hostname, obsolete calls.
DENIED_SYSCALLS = (
    "_sysctl",
    "acct",
    "add_key",
    "adjtimex",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setdomainname",
    "sethostname",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "sysfs",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
)
# clone(2) with any of these flags (a new mount, cgroup, UTS, IPC, user, PID or network namespace) fails
# with EPERM; threads and fork pass. clone3(2) passes its flags in memory seccomp cannot read, so it
# answers ENOSYS and libcs fall back to clone (as the container engines do).
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_EPERM = 1
_ENOSYS = 38


def cpu_quota_us(memory_mb: int, host_cores: int) -> int:
    """CPU time per period, proportional to memory (1,769 MB = one vCPU), capped at the cores it may use."""
    quota = CPU_PERIOD_US * memory_mb // MB_PER_VCPU
    return max(1_000, min(quota, CPU_PERIOD_US * host_cores))


@dataclass(frozen=True)
class CpuShare:
    """A sandbox's CPU: its quota per period and the CPUs it runs on (kernel list format; None: every one)."""

    quota_us: int
    cpus: str | None = None


def steady_share(memory_mb: int, host_cores: int, cpus: SandboxCpus | None) -> CpuShare:
    """Invocations' share: proportional to memory, on `cpus` (loop_cpu.sandbox_cpus) and capped at them; on
    every CPU when the CPUs are not held (`auto`) and the memory buys more vCPUs than they hold."""
    quota = cpu_quota_us(memory_mb, host_cores)
    if cpus is None or (not cpus.held and quota > CPU_PERIOD_US * len(cpus.cpus)):
        return CpuShare(quota)
    return CpuShare(cpu_quota_us(memory_mb, len(cpus.cpus)), cpu_list(cpus.cpus))


def start_share(spec: SandboxSpec, host_cores: int, cpus: SandboxCpus | None) -> CpuShare:
    """The share the container starts with: a boosted init has every core of the host (the loop's too: an
    init is rare and CPU-bound), anything else its steady share from the start."""
    if spec.init_cpu_boost:
        return CpuShare(CPU_PERIOD_US * host_cores)
    return steady_share(spec.memory_mb, host_cores, cpus)


def seccomp_profile() -> dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": list(DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS},
            *(
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": _EPERM,
                    "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
                }
                for flag in CLONE_NAMESPACE_FLAGS
            ),
        ],
    }


def _mounts(tmp: str) -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=64k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {"destination": "/tmp", "type": "bind", "source": tmp, "options": ["rbind", "nosuid", "nodev", "rw"]},
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
    ]


def _resources(spec: SandboxSpec, host_cores: int, cpus: SandboxCpus | None) -> dict[str, Any]:
    memory = spec.memory_mb * 1024 * 1024
    share = start_share(spec, host_cores, cpus)
    cpu: dict[str, Any] = {"quota": share.quota_us, "period": CPU_PERIOD_US}
    if share.cpus is not None:
        cpu["cpus"] = share.cpus
    return {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": memory, "swap": memory},
        "cpu": cpu,
        "pids": {"limit": spec.pids_limit},
    }


def config(
    spec: SandboxSpec,
    rootfs: str,
    tmp: str,
    netns_path: str,
    cgroups_path: str,
    host_cores: int,
    cpus: SandboxCpus | None = None,
    init: str | None = None,
) -> dict[str, Any]:
    """The OCI runtime config for `spec`, its root at `rootfs`, its /tmp the mounted directory `tmp`,
    joining the network namespace at `netns_path`.

    With `init` (a path inside the root), that init runs as PID 1 and starts the spec's process.
    """
    args = [init, "--", *spec.args] if init is not None else list(spec.args)
    caps = list(ROOT_CAPABILITIES) if spec.uid == 0 else []
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": spec.uid, "gid": spec.gid},
            "args": args,
            "env": [f"{name}={value}" for name, value in spec.env],
            "cwd": spec.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": spec.nofile_limit, "soft": spec.nofile_limit},
            ],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "localhost",
        "mounts": _mounts(tmp),
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": _resources(spec, host_cores, cpus),
            "namespaces": [
                {"type": "pid"},
                {"type": "network", "path": netns_path},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
                {"type": "cgroup"},
            ],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
            "seccomp": seccomp_profile(),
        },
    }
