"""A sandbox's runc bundle on disk: prepared and torn down by blocking calls that run in a worker thread.

<data>/sandboxes/<id>/config.json   the OCI config (oci.py)
<data>/sandboxes/<id>/rootfs/       the read-only overlay (overlay.py, rootfs.py)
<data>/sandboxes/<id>/tmp/          the sandbox's /tmp: tmp.ext4 loop-mounted (scratch.py)
<data>/sandboxes/<id>/tmp.ext4      the sparse file holding /tmp's blocks
<data>/sandboxes/<id>/pid           the container's init, written by `runc run --pid-file`
<data>/sandboxes/<id>/runc.log      runc's own log, read when runc fails
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from lambkin.loop_cpu import SandboxCpus
from lambkin.sandbox import netns, oci, overlay, rootfs, scratch
from lambkin.sandbox.cgroups import Cgroup
from lambkin.sandbox.spec import SandboxSpec


@dataclass(frozen=True)
class Layout:
    """Where one lambkin instance keeps its sandboxes: bundles, the skeleton layer, runc state, cgroups."""

    bundles: Path
    skeleton: Path
    tmp_templates: Path  # one empty /tmp file system per size (scratch.py)
    runc_root: Path
    cgroup_parent: str
    host_cores: int
    cpus: SandboxCpus | None = None  # the CPUs sandboxes run on once init is over (None: every one)
    init: Path | None = None  # a static init run as PID 1 inside every sandbox (tini), if the host has one
    pids_max: int | None = (
        None  # processes of all the instance's sandboxes together at most (None: unbounded)
    )

    def bundle(self, sandbox_id: str) -> Path:
        return self.bundles / sandbox_id

    def cgroup(self, sandbox_id: str) -> Cgroup:
        return Cgroup(f"{self.cgroup_parent}/{sandbox_id}")


def prepare(layout: Layout, spec: SandboxSpec, namespace: netns.NetworkNamespace) -> None:
    """Blocking; moves the calling thread between network namespaces, so run it in a thread of its own.

    Makes the bundle (overlay root mounted, config.json written) and opens the spec's listening sockets
    in `namespace` (a fresh one); on failure closes the namespace and leaves nothing behind.
    """
    bundle = layout.bundle(spec.id)
    try:
        bundle.mkdir(parents=True)  # raises if a sandbox of this id exists
    except BaseException:
        namespace.close()
        raise
    try:
        root = bundle / "rootfs"
        root.mkdir()
        rootfs.ensure_skeleton(layout.skeleton, layout.init)
        overlay.mount_overlay([layout.skeleton, *spec.lower_dirs], root)
        tmp = bundle / "tmp"
        tmp.mkdir()
        scratch.mount_tmp(layout.tmp_templates, spec.tmp_size_mb, bundle / "tmp.ext4", tmp)
        netns.listen(namespace, [spec.runtime_api_port, *spec.extra_ports])
        if layout.pids_max is not None:  # every sandbox's cgroup is below it (runc keeps what it finds)
            Cgroup(layout.cgroup_parent).limit_pids(layout.pids_max)
        config = oci.config(
            spec,
            rootfs=str(root),
            tmp=str(tmp),
            netns_path=namespace.path,
            cgroups_path=f"{layout.cgroup_parent}/{spec.id}",
            host_cores=layout.host_cores,
            cpus=layout.cpus,
            init=rootfs.INIT_PATH if layout.init is not None else None,
        )
        (bundle / "config.json").write_text(json.dumps(config))
    except BaseException:
        namespace.close()
        remove(layout, spec.id)
        raise


def remove(layout: Layout, sandbox_id: str) -> None:
    """Blocking. Unmounts and deletes the bundle and removes the cgroup; quiet about what is already gone."""
    bundle = layout.bundle(sandbox_id)
    overlay.detach(bundle / "rootfs")
    overlay.detach(bundle / "tmp")
    layout.cgroup(sandbox_id).remove()
    shutil.rmtree(bundle, ignore_errors=True)


def remove_all(layout: Layout) -> None:
    """Blocking. Removes every bundle, mount and cgroup of this instance (after a crash)."""
    for point in overlay.mounts_under(layout.bundles):
        overlay.detach(point)
    Cgroup(layout.cgroup_parent).remove()
    with contextlib.suppress(OSError):
        layout.runc_root.rmdir()  # only when runc holds no container there
    if layout.bundles.exists():
        for bundle in layout.bundles.iterdir():
            shutil.rmtree(bundle, ignore_errors=True)
