"""build_vfs: the mount tree of a sandbox, from its KernelConfig.

Root: the rootfs directory (HostFileSystem). Always: /proc (procfs) and /dev
(in-kernel devices; a configured tmpfs on /dev, or devpts on /dev/pts, is
replaced by it) and a tmpfs at /dev/shm (as every Linux container has; the
config's own wins). bind: the source directory, read-only with "ro".
tmpfs: served by a host directory created under `temp_base` (removed by
Vfs.close()): by default the host's /dev/shm when it is a writable tmpfs,
so directory sizes, statfs and speed are tmpfs's; else the system temp
dir. Its size= option is not enforced yet. Other types (sysfs, devpts
elsewhere, mqueue, cgroup, ...) are logged as not served and appear as
empty read-only directories.

Then, as runc does after the mounts, readonlyPaths and maskedPaths (see
apply_readonly_paths and apply_masked_paths).
"""
from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat as st_mod
import tempfile
import weakref
from typing import Any

from qkernel.config import KernelConfig, MountSpec
from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.devices import DEVFS_DEV, build_devfs
from qkernel.vfs.fscontext import FsContext
from qkernel.vfs.fsbase import Parts
from qkernel.vfs.hostfs import HostFileSystem
from qkernel.vfs.hostpath import open_path
from qkernel.vfs.memfs import DirNode, MemFileSystem, Node
from qkernel.vfs.mounts import Location, Vfs
from qkernel.vfs.procfs import ProcFileSystem
from qkernel.vfs.walk import resolve

EMPTYFS_DEV = 0x09
MASKFS_DEV = 0x0A            # the empty read-only tmpfs stand-ins over masked directories
DEVFS_SOURCE = "devfs"


def _parts(path: str) -> Parts:
    norm = posixpath.normpath("/" + path)
    return tuple(p for p in norm.split("/") if p)


def build_vfs(config: KernelConfig, log: logging.Logger | None = None,
              temp_base: str | None = None) -> Vfs:
    log = log or logging.getLogger("qkernel.vfs")
    vfs = Vfs(HostFileSystem(config.rootfs, readonly=config.readonly_root), log)
    vfs.root_mount.source = config.rootfs
    vfs.mount(("proc",), ProcFileSystem(), "proc", "proc")
    devfs = build_devfs()
    vfs.mount(("dev",), devfs, DEVFS_SOURCE, "devtmpfs")
    if temp_base is None:
        temp_base = default_temp_base()
    for spec in config.mounts:
        _mount_one(vfs, spec, log, temp_base)
    if ("dev", "shm") not in vfs.mounts:
        _mount_one(vfs, MountSpec(destination="/dev/shm", type="tmpfs", source="shm",
                                  options=["nosuid", "noexec", "nodev", "mode=1777"]), log, temp_base)
    apply_readonly_paths(vfs, config.readonly_paths, log)
    apply_masked_paths(vfs, config.masked_paths, devfs.root.children["null"], log)
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
    elif kind == "devpts" and point == ("dev", "pts"):
        return                          # so is /dev/pts: the terminal's pts/0 (devices.add_terminal)
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


# -- readonlyPaths and maskedPaths ----------------------------------------------------
#
# runc makes each readonlyPaths entry a read-only bind mount of itself and
# covers each maskedPaths entry with a mount: a read-only empty tmpfs on a
# directory, a bind of /dev/null on anything else. Paths are resolved in
# the container (symlinks followed), and one that does not exist is skipped.
# The mount tree here is lexical (mount points are absolute guest paths), so
# a mount point may be a file as well as a directory: the file system
# mounted there simply has a file as its root. That is the same model as
# Linux's, so /proc/self/mounts, statfs, unlink (EBUSY) and rename (EXDEV)
# treat these like any other mount, and no path-resolution special case is
# needed.

def apply_readonly_paths(vfs: Vfs, paths: list[str], log: logging.Logger) -> None:
    task = _StartupTask.bare(vfs)
    for path in paths:
        loc = _existing(vfs, task, path)
        if loc is None or loc.fs.readonly:
            continue                       # missing (runc skips it too), or read-only already
        view = _subtree(task, loc, readonly=True)
        if view is None:
            log.warning("readonlyPaths: %s cannot be made read-only (%s file system)",
                        path, loc.fs.name)
            continue
        m = loc.mount
        mtype = "bind" if m.type == "rootfs" else m.type
        options = [o for o in m.options if o != "rw"] + ["ro"]
        vfs.mount(loc.abs_parts, view, m.source, mtype, options)


def apply_masked_paths(vfs: Vfs, paths: list[str], null: Node, log: logging.Logger) -> None:
    task = _StartupTask.bare(vfs)
    inodes = MemFileSystem(MASKFS_DEV)     # numbers the masks' roots: one st_dev, distinct st_ino
    for path in paths:
        loc = _existing(vfs, task, path)
        if loc is None:
            continue
        if loc.fs.lstat(task, loc.parts).mode & abi.S_IFMT == abi.S_IFDIR:
            empty = DirNode(inodes.new_ino(), abi.S_IFDIR | 0o1777)   # a fresh tmpfs's root mode
            vfs.mount(loc.abs_parts, MemFileSystem(MASKFS_DEV, readonly=True, root=empty),
                      "tmpfs", "tmpfs", ["ro"], cover=True)
        else:
            # /dev/null's own node: stat shows the 1:3 character device, reads
            # are empty and writes vanish, as under runc.
            vfs.mount(loc.abs_parts, MemFileSystem(DEVFS_DEV, root=null), DEVFS_SOURCE,
                      "devtmpfs", ["bind"], cover=True)
        log.debug("maskedPaths: %s masked", path)


def _existing(vfs: Vfs, task: "_StartupTask", path: str) -> Location | None:
    """Where `path` leads in the guest (symlinks followed), or None if nothing is there."""
    try:
        loc = resolve(vfs, task, task.fs.root, path).loc
        if loc.file is not None:
            return None                    # a /proc/<pid>/fd magic link: no process exists yet
        loc.fs.lstat(task, loc.parts)
    except SyscallError:
        return None
    return loc


def _subtree(task: "_StartupTask", loc: Location, readonly: bool) -> Any:
    """A file system whose root is `loc`: a bind mount of it."""
    fs = loc.fs
    if isinstance(fs, MemFileSystem):
        return fs.subtree(task, loc.parts, readonly)
    if isinstance(fs, HostFileSystem):
        # Open it confined to its mount (no host symlink followed), then let
        # HostFileSystem reopen it through the fd's /proc magic link.
        fd = open_path(fs.dirfd, "/".join(fs.base + loc.parts))
        try:
            if st_mod.S_ISLNK(os.fstat(fd).st_mode):
                return None
            return HostFileSystem(f"/proc/self/fd/{fd}", readonly=readonly)
        finally:
            os.close(fd)
    return None


def initial_fs_context(vfs: Vfs, config: KernelConfig) -> FsContext:
    """Root at /, cwd at config.cwd (/ when it cannot be resolved)."""
    root = vfs.root()
    ctx = FsContext(root, root, config.umask)
    try:
        ctx.cwd = resolve(vfs, _StartupTask(ctx), root, config.cwd or "/").loc
    except SyscallError:
        ctx.cwd = root
    return ctx


class _NoProcesses:
    """The kernel as procfs sees it while the tree is built: no process yet."""

    def __init__(self) -> None:
        self.thread_groups: dict[int, Any] = {}
        self.tasks: dict[int, Any] = {}


class _StartupTask:
    """Enough of a task to resolve paths (the start-up cwd, masked paths)
    before any task exists."""

    def __init__(self, ctx: FsContext) -> None:
        self.fs = ctx
        self.pid = -1                      # no process yet: /proc/self leads nowhere
        self.creds = Credentials()
        self.exe_path = ""
        self.kernel = _NoProcesses()

    @classmethod
    def bare(cls, vfs: Vfs) -> "_StartupTask":
        root = vfs.root()
        return cls(FsContext(root, root, 0o022))
