"""build_vfs: the mount tree of a sandbox, from its KernelConfig.

Root: the rootfs directory (HostFileSystem). Always: /proc (procfs) and /dev
(in-kernel devices; a configured tmpfs on /dev is replaced by it) and a
tmpfs at /dev/shm (as every Linux container has; the config's own wins).
bind: the source directory, read-only with "ro". tmpfs: served by a host
directory created under `temp_base` (removed by Vfs.close()): by default
the host's /dev/shm when it is a writable tmpfs, so directory sizes,
statfs and speed are tmpfs's; else the system temp dir. Its size= option
is not enforced yet. Other types
(sysfs, devpts, mqueue, cgroup, ...) are logged as not served and appear as
empty read-only directories.
"""
from __future__ import annotations

import logging
import os
import posixpath
import shutil
import tempfile
import weakref

from qkernel.config import KernelConfig, MountSpec
from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.vfs.devices import build_devfs
from qkernel.vfs.fscontext import FsContext
from qkernel.vfs.fsbase import Parts
from qkernel.vfs.hostfs import HostFileSystem
from qkernel.vfs.memfs import MemFileSystem
from qkernel.vfs.mounts import Vfs
from qkernel.vfs.procfs import ProcFileSystem
from qkernel.vfs.walk import resolve

EMPTYFS_DEV = 0x09


def _parts(path: str) -> Parts:
    norm = posixpath.normpath("/" + path)
    return tuple(p for p in norm.split("/") if p)


def build_vfs(config: KernelConfig, log: logging.Logger | None = None,
              temp_base: str | None = None) -> Vfs:
    log = log or logging.getLogger("qkernel.vfs")
    vfs = Vfs(HostFileSystem(config.rootfs, readonly=config.readonly_root), log)
    vfs.root_mount.source = config.rootfs
    vfs.mount(("proc",), ProcFileSystem(), "proc", "proc")
    vfs.mount(("dev",), build_devfs(), "devfs", "devtmpfs")
    if temp_base is None:
        temp_base = default_temp_base()
    for spec in config.mounts:
        _mount_one(vfs, spec, log, temp_base)
    if ("dev", "shm") not in vfs.mounts:
        _mount_one(vfs, MountSpec(destination="/dev/shm", type="tmpfs", source="shm",
                                  options=["nosuid", "noexec", "nodev", "mode=1777"]), log, temp_base)
    return vfs


HOST_SHM = "/dev/shm"


def default_temp_base() -> str | None:
    """The host's /dev/shm when it is a tmpfs we may write; None (the
    system temp dir) otherwise."""
    from qkernel.vfs.statfs import is_host_tmpfs
    if os.path.isdir(HOST_SHM) and os.access(HOST_SHM, os.W_OK | os.X_OK) and is_host_tmpfs(HOST_SHM):
        return HOST_SHM
    return None


def _mount_one(vfs: Vfs, spec: MountSpec, log: logging.Logger, temp_base: str | None) -> None:
    point = _parts(spec.destination)
    kind = spec.type or ("bind" if "bind" in spec.options or "rbind" in spec.options else "none")
    if kind == "none" and ("bind" in spec.options or "rbind" in spec.options):
        kind = "bind"
    if kind == "bind":
        vfs.mount(point, HostFileSystem(spec.source, readonly=spec.readonly), spec.source, "bind", spec.options)
    elif kind == "proc":
        return                          # /proc is always ours
    elif kind == "tmpfs" and point == ("dev",):
        return                          # /dev is served by the in-kernel devices
    elif kind == "tmpfs":
        host_dir = tempfile.mkdtemp(prefix="quark-tmpfs-", dir=temp_base)
        os.chmod(host_dir, _tmpfs_mode(spec.options))
        vfs.temp_dirs.append(host_dir)
        # A Vfs nobody closes (an abandoned Kernel) still gives its dir back.
        weakref.finalize(vfs, shutil.rmtree, host_dir, True)
        vfs.mount(point, HostFileSystem(host_dir, readonly=spec.readonly), "tmpfs", "tmpfs", spec.options)
    else:
        log.info("mount %s on %s: type not served yet (empty read-only directory)",
                 kind, spec.destination)
        vfs.mount(point, MemFileSystem(EMPTYFS_DEV, readonly=True), spec.source or kind, kind, spec.options)


def _tmpfs_mode(options: list[str]) -> int:
    for opt in options:
        if opt.startswith("mode="):
            try:
                return int(opt[5:], 8)
            except ValueError:
                pass
    return 0o1777


def initial_fs_context(vfs: Vfs, config: KernelConfig) -> FsContext:
    """Root at /, cwd at config.cwd (/ when it cannot be resolved)."""
    root = vfs.root()
    ctx = FsContext(root, root, config.umask)
    try:
        ctx.cwd = resolve(vfs, _StartupTask(ctx), root, config.cwd or "/").loc
    except SyscallError:
        ctx.cwd = root
    return ctx


class _StartupTask:
    """Enough of a task to resolve the start-up cwd, before any task exists."""

    def __init__(self, ctx: FsContext) -> None:
        self.fs = ctx
        self.pid = 1
        self.creds = Credentials()
        self.exe_path = ""
