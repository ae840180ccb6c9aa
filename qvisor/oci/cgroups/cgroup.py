"""A container's host cgroup: create or open it, join it, limit, freeze, kill, remove.

A relative path resolves against the cgroup of the process that resolves it:
keep Cgroup.paths (e.g. in state.json) and hand it to Cgroup.open() so later
commands run from another cgroup find the same directories.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

from qvisor.oci.cgroups.errors import CgroupError
from qvisor.oci.cgroups.files import ints, keyed, read_or, wait_for, write
from qvisor.oci.cgroups.layout import UNIFIED, V1_OPTIONAL, Layout, detect_layout, resolve_dirs
from qvisor.oci.cgroups.resources import Resources
from qvisor.oci.cgroups.stats import stats_v1, stats_v2
from qvisor.oci.cgroups.tree import make_dir, remove_tree, walk_dirs, write_procs
from qvisor.oci.cgroups.v1 import fill_cpuset, v1_cpu, v1_freeze, v1_memory
from qvisor.oci.cgroups.v2 import (
    enable_v2_controllers, shares_to_weight, v2_cpu_max, v2_limit_str, v2_memory, v2_write,
)

log = logging.getLogger("quark")

FREEZE_TIMEOUT = 5.0


class Cgroup:
    """A container's cgroup: one directory per hierarchy (v1) or one (v2)."""

    def __init__(self, path: str, mode: str, dirs: dict[str, str]) -> None:
        self.path = path
        self.mode = mode                  # "v1", "hybrid" or "v2"
        self.dirs = dict(dirs)            # hierarchy key -> absolute directory

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, mode={self.mode!r})"

    @property
    def paths(self) -> dict[str, str]:
        """The resolved directories; save them for Cgroup.open(path, paths)."""
        return dict(self.dirs)

    @property
    def v2(self) -> bool:
        return self.mode == "v2"

    # ---- creation ---------------------------------------------------------

    @classmethod
    def create(cls, path: str, layout: Layout | None = None) -> "Cgroup":
        """Make the cgroup in every hierarchy quark uses (existing ones are reused)."""
        layout = layout or detect_layout()
        if layout.mode == "none":
            raise CgroupError("no cgroup file system is mounted (see /proc/self/mountinfo)")
        dirs = resolve_dirs(path, layout)
        made: dict[str, str] = {}
        for key, directory in dirs.items():
            try:
                make_dir(directory)
            except OSError as err:
                if key in V1_OPTIONAL and layout.mode != "v2":
                    log.warning("cgroup: cannot create %s: %s; not joining %s",
                                directory, err.strerror, key)
                    continue
                raise CgroupError(f"cannot create cgroup {directory}: {err.strerror}") from None
            made[key] = directory
        cg = cls(path, layout.mode, made)
        if cg.v2:
            assert layout.unified is not None
            enable_v2_controllers(layout.unified.mountpoint, made[UNIFIED])
        elif "cpuset" in made:
            fill_cpuset(layout.v1["cpuset"].mountpoint, made["cpuset"])
        return cg

    @classmethod
    def open(cls, path: str, paths: dict[str, str] | None = None,
             layout: Layout | None = None) -> "Cgroup":
        """The cgroup of an existing container (for update, pause, delete, ...).

        paths: Cgroup.paths saved at create; without it `path` is resolved
        again (the same result unless it is relative and the caller sits in
        another cgroup). Directories that do not exist are left out.
        """
        layout = layout or detect_layout()
        if paths is not None:
            dirs, mode = dict(paths), layout.mode
        else:
            if layout.mode == "none":
                raise CgroupError("no cgroup file system is mounted (see /proc/self/mountinfo)")
            dirs, mode = resolve_dirs(path, layout), layout.mode
        return cls(path, mode, {k: d for k, d in dirs.items() if os.path.isdir(d)})

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs.values())

    def _unique_dirs(self) -> list[tuple[str, str]]:
        """(key, dir) once per directory (co-mounted controllers share one)."""
        seen: set[str] = set()
        out = []
        for key, directory in self.dirs.items():
            if directory not in seen:
                seen.add(directory)
                out.append((key, directory))
        return out

    # ---- membership -------------------------------------------------------

    def add_pid(self, pid: int, cpuset: bool = True) -> None:
        """Move process pid (all its threads) into the cgroup everywhere.

        cpuset=False leaves v1's cpuset hierarchy out: joining it costs
        ~13 ms here (the kernel waits for an RCU grace period), and a
        process outside a cpuset child is where an unrestricted one would
        be. `join_cpuset` adds it when cpuset limits come later."""
        for key, directory in self._unique_dirs():
            if key == "cpuset" and not cpuset and self.mode != "v2":
                continue
            try:
                write_procs(directory, pid)
            except OSError as err:
                target = os.path.join(directory, "cgroup.procs")
                if key in V1_OPTIONAL and self.mode != "v2":
                    log.warning("cgroup: cannot add pid %d to %s: %s", pid, target, err.strerror)
                    continue
                raise CgroupError(f"cannot write {pid} to {target}: {err.strerror}") from None

    def join_cpuset(self, pid: int) -> None:
        """Add pid to the v1 cpuset hierarchy (see add_pid's cpuset=False)."""
        directory = self.dirs.get("cpuset")
        if directory is None or self.mode == "v2":
            return
        try:
            write_procs(directory, pid)
        except OSError as err:
            raise CgroupError(f"cannot write {pid} to {directory}/cgroup.procs: {err.strerror}") from None

    def pids(self) -> list[int]:
        """The processes in the cgroup and its sub-cgroups, sorted."""
        directory = self._dir_for(("freezer", "pids", "memory", "cpu", "devices", "cpuacct",
                                   "cpuset", UNIFIED, "name=systemd"))
        if directory is None:
            return []
        found: set[int] = set()
        for sub in walk_dirs(directory):
            found.update(ints(read_or(sub, "cgroup.procs")))
        return sorted(found)

    def _dir_for(self, keys: tuple[str, ...]) -> str | None:
        for key in keys:
            directory = self.dirs.get(key)
            if directory and os.path.isdir(directory):
                return directory
        return None

    # ---- limits -----------------------------------------------------------

    def apply(self, res: Resources) -> None:
        """Write every limit res sets. CgroupError if one cannot be applied."""
        if self.v2:
            self._apply_v2(res)
        else:
            self._apply_v1(res)

    def _require(self, key: str, what: str) -> str:
        directory = self.dirs.get(key)
        if directory is None:
            raise CgroupError(f"cannot apply {what}: no {key} cgroup for this container "
                              f"(is the {key} controller mounted?)")
        return directory

    def _apply_v1(self, res: Resources) -> None:
        if res.wants_memory():
            v1_memory(self._require("memory", "linux.resources.memory"), res)
        if res.pids_limit is not None:
            write(self._require("pids", "linux.resources.pids"), "pids.max",
                   v2_limit_str(res.pids_limit))
        if res.wants_cpu():
            v1_cpu(self._require("cpu", "linux.resources.cpu"), res)
        if res.wants_cpuset():
            directory = self._require("cpuset", "linux.resources.cpu.cpus/mems")
            if res.cpuset_cpus is not None:
                write(directory, "cpuset.cpus", res.cpuset_cpus)
            if res.cpuset_mems is not None:
                write(directory, "cpuset.mems", res.cpuset_mems)

    def _apply_v2(self, res: Resources) -> None:
        directory = self._require(UNIFIED, "linux.resources")
        if res.wants_memory():
            v2_memory(directory, res)
        if res.pids_limit is not None:
            v2_write(directory, "pids.max", v2_limit_str(res.pids_limit), "pids")
        if res.cpu_shares is not None:
            v2_write(directory, "cpu.weight", str(shares_to_weight(res.cpu_shares)), "cpu")
        if res.cpu_quota is not None or res.cpu_period is not None:
            v2_cpu_max(directory, res)
        if res.cpuset_cpus is not None:
            v2_write(directory, "cpuset.cpus", res.cpuset_cpus, "cpuset")
        if res.cpuset_mems is not None:
            v2_write(directory, "cpuset.mems", res.cpuset_mems, "cpuset")

    # ---- freezer ----------------------------------------------------------

    def _freezer_dir(self) -> str:
        key = UNIFIED if self.v2 else "freezer"
        directory = self.dirs.get(key)
        if directory is None:
            raise CgroupError(f"cannot pause or resume: no {key} cgroup for this container")
        return directory

    def freeze(self, timeout: float = FREEZE_TIMEOUT) -> None:
        """Stop every process in the cgroup; returns once the kernel says frozen."""
        directory = self._freezer_dir()
        if self.v2:
            write(directory, "cgroup.freeze", "1")
            if not wait_for(lambda: self.frozen(), timeout):
                raise CgroupError(f"{directory}: still not frozen after {timeout:g}s "
                                  f"(cgroup.events)")
            return
        v1_freeze(directory, timeout)

    def thaw(self, timeout: float = FREEZE_TIMEOUT) -> None:
        directory = self._freezer_dir()
        if self.v2:
            write(directory, "cgroup.freeze", "0")
            ok = wait_for(lambda: not self.frozen(), timeout)
        else:
            write(directory, "freezer.state", "THAWED")
            ok = wait_for(lambda: read_or(directory, "freezer.state") == "THAWED", timeout)
        if not ok:
            raise CgroupError(f"{directory}: still frozen after {timeout:g}s")

    def frozen(self) -> bool:
        """True once frozen (v1 FREEZING, still on its way, is False)."""
        key = UNIFIED if self.v2 else "freezer"
        directory = self.dirs.get(key)
        if directory is None:
            return False
        if self.v2:
            return keyed(read_or(directory, "cgroup.events")).get("frozen") == 1
        return read_or(directory, "freezer.state") == "FROZEN"

    # ---- signals and removal ----------------------------------------------

    def kill_all(self, signo: int) -> None:
        """Send signo to every process in the cgroup.

        The cgroup is frozen meanwhile (as runc does) so nothing forks a
        process we would miss; SIGKILL then thaws it, since v1-frozen tasks
        only die once thawed. Other signals restore the previous state.
        """
        if self.v2 and signo == signal.SIGKILL and self._v2_kill():
            return
        me = os.getpid()
        can_freeze = ((UNIFIED if self.v2 else "freezer") in self.dirs
                      and me not in self.pids())     # never freeze ourselves
        was_frozen = self.frozen() if can_freeze else False
        if can_freeze and not was_frozen:
            try:
                self.freeze()
            except CgroupError as err:
                log.warning("cgroup: %s; signalling without freezing", err)
                can_freeze = False
        try:
            for pid in self.pids():
                if pid == me:
                    continue
                try:
                    os.kill(pid, signo)
                except ProcessLookupError:
                    pass
        finally:
            if can_freeze and (signo == signal.SIGKILL or not was_frozen):
                self.thaw()

    def _v2_kill(self) -> bool:
        """cgroup.kill (Linux 5.14+) SIGKILLs the whole subtree at once."""
        directory = self.dirs.get(UNIFIED)
        if directory is None or not os.path.exists(os.path.join(directory, "cgroup.kill")):
            return False
        write(directory, "cgroup.kill", "1")
        return True

    def destroy(self, timeout: float = 2.0) -> None:
        """rmdir the cgroup (and sub-cgroups) everywhere; missing ones are fine.

        The processes must be gone: EBUSY is retried until timeout (the
        kernel lets go of exiting tasks asynchronously), then CgroupError.
        """
        deadline = time.monotonic() + timeout
        failures = []
        for _, directory in self._unique_dirs():
            err = remove_tree(directory, deadline)
            if err:
                failures.append(err)
        if failures:
            raise CgroupError("; ".join(failures))

    # ---- statistics ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The "data" object of runc's `events --stats` (runc's types.Stats names)."""
        if self.v2:
            return stats_v2(self.dirs.get(UNIFIED))
        return stats_v1(self.dirs)
