"""The runc sandbox backend: prepares bundles and network namespaces, hands out RuncSandboxes, cleans up."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from lambkin.loop_cpu import SandboxCpus, unpinned
from lambkin.network.outward import Outward
from lambkin.network.policy import Mode, NetworkPolicy
from lambkin.network.vpc import EMPTY, Catalog
from lambkin.sandbox import bundle, oci, orphans, syscalls
from lambkin.sandbox.cgroups import Cgroup
from lambkin.sandbox.container import InvalidSandboxTransition, RuncSandbox, State
from lambkin.sandbox.errors import SandboxError
from lambkin.sandbox.netns import NetworkNamespace
from lambkin.sandbox.netpool import NamespacePool
from lambkin.sandbox.runc_cli import Runc, check_id
from lambkin.sandbox.spec import OutputSink, SandboxSpec
from lambkin.sandbox.threads import in_own_thread

__all__ = ["InvalidSandboxTransition", "RuncBackend", "RuncSandbox", "State"]

log = logging.getLogger("lambkin.sandbox")


INIT_CANDIDATES = (Path("/usr/bin/tini-static"), Path("/sbin/tini-static"))


def find_init(override: str | None = None) -> Path | None:
    """The host's static tini (Debian's `tini` package), copied into every sandbox as its PID 1; or the
    `override` path instead ("": run without an init)."""
    if override is not None:
        return Path(override) if override else None
    found = next((path for path in INIT_CANDIDATES if path.is_file()), None)
    if found is None:
        log.warning(
            "no static tini on this host: a sandbox's runtime runs as PID 1 (install the tini package)"
        )
    return found


class RuncBackend:
    """Creates runc sandboxes under `<data>/sandboxes`, with runc state in `/run/lambkin/<instance>` and
    cgroups under `/lambkin/<instance>`, where <instance> is derived from the data directory (so parallel
    lambkin instances never touch each other's sandboxes). `init` overrides the host's static tini (see
    `find_init`); `pids_max` bounds the processes of all the instance's sandboxes together (the pids limit of
    their parent cgroup), beside each one's own. With a `network` policy whose mode is internet, every sandbox
    is linked to the outside (network/); else it has its loopback only. Call `close()` once done: it removes
    the network's rules. A sandbox whose spec names security groups gets only the egress their rules in
    `vpcs` allow."""

    def __init__(
        self,
        data_dir: Path,
        runc: str = "runc",
        host_cores: int | None = None,
        cpus: SandboxCpus | None = None,
        init: str | None = None,
        network: NetworkPolicy | None = None,
        pids_max: int | None = None,
        vpcs: Catalog = EMPTY,
    ) -> None:
        self.vpcs = vpcs
        instance = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
        self.outward = (
            Outward(network, instance, data_dir)
            if network is not None and network.mode is Mode.INTERNET
            else None
        )
        self.namespaces = NamespacePool(self.outward)
        self._network: asyncio.Future[None] | None = None
        self.layout = bundle.Layout(
            bundles=data_dir / "sandboxes",
            skeleton=data_dir / "sandbox-skeleton",
            tmp_templates=data_dir / "tmp-templates",
            runc_root=Path("/run/lambkin") / instance,
            cgroup_parent=f"/lambkin/{instance}",
            host_cores=host_cores or os.cpu_count() or 1,
            cpus=cpus,
            init=find_init(init),
            pids_max=pids_max,
        )
        self.runc = Runc(self.layout.runc_root, runc)
        self._subreaper = False
        self._cleaning: asyncio.Future[None] | None = None

    async def create(self, spec: SandboxSpec, stdout: OutputSink, stderr: OutputSink) -> RuncSandbox:
        check_id(spec.id)
        if self._cleaning is not None:
            await asyncio.shield(self._cleaning)
        if not self._subreaper:
            syscalls.set_child_subreaper()
            self._subreaper = True
        try:
            await self._network_ready()
            namespace = await self.namespaces.take()
            allowing = self._allow(spec, namespace)  # beside the bundle's preparation: nft is a process
            try:
                await in_own_thread(
                    lambda: bundle.prepare(self.layout, spec, namespace),
                    lambda _: self._undo(spec.id, namespace),
                )
            except BaseException:
                self.namespaces.settled()
                if allowing is not None:
                    allowing.cancel()  # an element it still writes is keyed by a link about to go
                raise
            release = await self._allowed(spec, namespace, allowing)
        except OSError as exc:
            raise SandboxError(f"sandbox {spec.id}: preparing failed: {exc}") from exc
        layout = self.layout
        steady = (
            oci.steady_share(spec.memory_mb, layout.host_cores, layout.cpus) if spec.init_cpu_boost else None
        )
        return RuncSandbox(
            self.layout,
            self.runc,
            spec.id,
            namespace,
            spec.runtime_api_port,
            stdout,
            stderr,
            steady,
            settled=self.namespaces.settled,
            release=release,
        )

    def _allow(self, spec: SandboxSpec, namespace: NetworkNamespace) -> asyncio.Future[int] | None:
        """A VPC function's sandbox: starts writing its security groups' egress rules (in a worker thread);
        None for any other sandbox."""
        outward, slot = self.outward, namespace.slot
        if not spec.security_groups or outward is None or slot is None:
            return None
        rules = self.vpcs.egress(spec.security_groups)
        allowing = asyncio.ensure_future(asyncio.to_thread(outward.allow, slot, rules))
        allowing.add_done_callback(lambda done: done.cancelled() or done.exception())  # seen, if abandoned
        return allowing

    async def _allowed(
        self, spec: SandboxSpec, namespace: NetworkNamespace, allowing: asyncio.Future[int] | None
    ) -> Callable[[], None] | None:
        """Waits for `_allow`'s rules (the sandbox is prepared, not yet started); returns what removes them.
        On failure the prepared sandbox is undone."""
        outward = self.outward
        if allowing is None or outward is None:
            return None
        try:
            index = await allowing
        except BaseException:
            self.namespaces.settled()
            await asyncio.to_thread(self._undo, spec.id, namespace)
            raise

        def release() -> None:
            try:
                outward.release(index)
            except OSError as exc:  # harmless left behind: no later link has its index
                log.warning("sandbox %s: removing its VPC egress rules failed: %s", spec.id, exc)

        return release

    def _undo(self, sandbox_id: str, namespace: NetworkNamespace) -> None:
        namespace.close()
        bundle.remove(self.layout, sandbox_id)

    async def _network_ready(self) -> None:
        """The first call sets up the outward network's rules (in a worker thread); every call waits for it."""
        if self.outward is None:
            return
        if self._network is None:
            self._network = asyncio.ensure_future(asyncio.to_thread(self.outward.start))
        try:
            await asyncio.shield(self._network)
        except OSError as exc:
            self._network = None  # the next cold start tries again
            raise SandboxError(f"setting up the sandboxes' network failed: {exc}") from exc

    def close(self) -> None:
        """Blocking. Closes the prepared namespaces and removes the network's rules and links."""
        self.namespaces.close()
        if self.outward is not None and self._network is not None:
            # pyroute2 runs an event loop of its own: not in a thread whose loop is running, as this one's may be.
            worker = threading.Thread(target=self._stop_network, name="lambkin-network-stop")
            with unpinned():
                worker.start()
            worker.join()

    def _stop_network(self) -> None:
        assert self.outward is not None
        try:
            self.outward.stop()
        except OSError as exc:
            log.warning("removing the sandboxes' network failed: %s", exc)

    async def cleanup_leftovers(self) -> None:
        """Call once at startup: removes every sandbox of this instance's data directory, and every
        create() meanwhile waits for it to finish; also closes the namespaces prepared but not used."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._cleaning = done
        self.namespaces.drain()
        try:
            await asyncio.to_thread(Cgroup(self.layout.cgroup_parent).thaw_all)
            results = await asyncio.gather(
                *(self.runc.delete(sandbox_id) for sandbox_id in self.runc.ids()), return_exceptions=True
            )
            try:
                await asyncio.to_thread(bundle.remove_all, self.layout)
            except OSError as exc:
                raise SandboxError(f"removing leftover sandboxes failed: {exc}") from exc
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        finally:
            self._cleaning = None
            done.set_result(None)
        await self._sweep_orphans()

    async def start(self) -> None:
        """The server's start: removes what an earlier run left (`cleanup_leftovers`), sets up the network's
        rules, and fills the pool of prepared namespaces."""
        await self.cleanup_leftovers()
        await self._network_ready()
        self.namespaces.fill()

    async def _sweep_orphans(self) -> None:
        """Best effort: other instances' sandboxes whose data directory is gone (see orphans.py)."""
        found = await asyncio.to_thread(orphans.find, self.layout.runc_root, self.layout.runc_root.parent)
        for root, sandbox_id in found:
            try:
                await asyncio.to_thread(Cgroup(f"/lambkin/{root.name}/{sandbox_id}").thaw_all)
                await Runc(root, self.runc.binary).delete(sandbox_id)
                await asyncio.to_thread(orphans.forget, root, sandbox_id)
            except (OSError, SandboxError) as exc:
                log.warning("could not remove orphaned sandbox %s in %s: %s", sandbox_id, root, exc)
