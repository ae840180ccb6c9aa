"""/proc: a directory per process (live or zombie thread group in
kernel.thread_groups), self and thread-self, and the system files programs
read (meminfo, cpuinfo, uptime, loadavg, stat, version, filesystems,
mounts, sys/...).

Files are generated when opened (a snapshot, as a seq_file's first read
is) and read like regular files of size 0. /proc/<pid>/fd/N are "magic
links": following one yields the open file itself (a pipe or the host tty
has no path to re-resolve). Content generators live in procfs_pid.py and
procfs_sys.py; this module is the tree.
"""
from __future__ import annotations

import errno
from typing import Any, Callable

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.memfs import DirNode, MemFileSystem, Node, PathOnlyFile, SymlinkNode
from qkernel.vfs.mounts import Location
from qkernel.vfs.statinfo import StatInfo

PROCFS_DEV = 0x04

Content = Callable[[Any], bytes]     # caller task -> file bytes


def record_exec(task: Any, argv: list[bytes] | list[str], envp: list[bytes] | list[str]) -> None:
    """Remember what a process exec'd with, for /proc/<pid>/cmdline and
    environ (call from the exec path once the new image is in place)."""
    tg = task.tg
    tg.argv = [a if isinstance(a, bytes) else a.encode("utf-8", "surrogateescape") for a in argv]
    tg.envp = [e if isinstance(e, bytes) else e.encode("utf-8", "surrogateescape") for e in envp]


class GenFileNode(Node):
    """A read-only (or, with `writer`, writable) generated file."""

    def __init__(self, ino: int, content: Content, mode: int = abi.S_IFREG | 0o444,
                 writer: Callable[[Any, bytes], None] | None = None) -> None:
        super().__init__(ino, mode)
        self.content = content
        self.writer = writer


class ProcFile(OpenFile):
    """An open generated file: its bytes as they were at open."""
    seekable = True

    def __init__(self, fs: "ProcFileSystem", node: GenFileNode, flags: int, path: str,
                 loc: Location, data: bytes) -> None:
        super().__init__(flags, path, loc)
        self.fs, self.node, self.data = fs, node, data

    def stat(self, task: Any) -> StatInfo:
        if self.location is not None:
            try:
                return self.fs.lstat(task, self.location.parts)
            except SyscallError:
                pass                          # the process is gone: the node still answers
        return self.node.stat(task, PROCFS_DEV)

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return self.data[offset:offset + n]

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        if self.node.writer is None:
            raise SyscallError(errno.EIO)
        self.node.writer(task, data)
        return len(data)

    def write(self, task: Any, data: bytes) -> int:
        return self.pwrite(task, data, 0)

    def bytes_available(self) -> int:
        return max(0, len(self.data) - self.offset)


class FnDirNode(DirNode):
    """A directory whose entries are computed for the caller: `names(task)`
    lists them, `make(task, name)` returns the node (or None)."""

    def __init__(self, ino: int, names: Callable[[Any], list[str]],
                 make: Callable[[Any, str], Node | None], mode: int = abi.S_IFDIR | 0o555) -> None:
        super().__init__(ino, mode)
        self._names, self._make = names, make

    def lookup(self, task: Any, name: str) -> Node | None:
        return self._make(task, name)

    def entries(self, task: Any) -> list[tuple[str, Node]]:
        out = []
        for name in self._names(task):
            node = self._make(task, name)
            if node is not None:
                out.append((name, node))
        return out


class ProcFileSystem(MemFileSystem):
    name = "proc"

    def __init__(self) -> None:
        super().__init__(PROCFS_DEV, readonly=False)
        from qkernel.vfs import procfs_sys
        self._pid_dirs: dict[tuple[int, int], tuple[Any, Node]] = {}
        root = _ProcRoot(self, self.new_ino())
        root.children = {
            "self": SymlinkNode(self.new_ino(), lambda task: str(task.pid)),
            "thread-self": SymlinkNode(self.new_ino(), lambda task: f"{task.pid}/task/{task.tid}"),
            "mounts": SymlinkNode(self.new_ino(), "self/mounts"),
        }
        procfs_sys.populate(self, root)
        self.root = root

    # -- node helpers -------------------------------------------------------------
    def file(self, content: Content, mode: int = abi.S_IFREG | 0o444,
             writer: Callable[[Any, bytes], None] | None = None) -> GenFileNode:
        return GenFileNode(self.new_ino(), content, mode, writer)

    def text(self, value: str | Callable[[Any], str]) -> GenFileNode:
        if isinstance(value, str):
            data = value.encode()
            return self.file(lambda task: data)
        return self.file(lambda task: value(task).encode("utf-8", "surrogateescape"))

    def pid_dir(self, tg: Any, thread: Any = None) -> Node:
        """The (cached, so inode numbers stay put) directory of a process,
        or of one of its threads (task/<tid>)."""
        from qkernel.vfs import procfs_pid
        key = (tg.pid, thread.tid if thread is not None else 0)
        hit = self._pid_dirs.get(key)
        if hit is not None and hit[0] is (thread or tg):
            return hit[1]
        node = procfs_pid.make_dir(self, tg, thread)
        if len(self._pid_dirs) > 4096:                 # keep the cache to processes that exist
            self._pid_dirs = {k: v for k, v in self._pid_dirs.items()
                              if not getattr(v[0], "reaped", False) and not getattr(v[0], "exited", False)}
        self._pid_dirs[key] = (thread or tg, node)
        return node

    def forget_dead(self, kernel: Any) -> None:
        for key in [k for k, (obj, _) in self._pid_dirs.items()
                    if kernel.thread_groups.get(k[0]) is None]:
            del self._pid_dirs[key]

    # -- FileSystem ---------------------------------------------------------------
    def open(self, task: Any, loc: Location, flags: int, mode: int, path: str) -> OpenFile:
        try:
            node = self.node_at(task, loc.parts)
        except SyscallError as e:
            if e.errno == errno.ENOENT and flags & abi.O_CREAT:
                raise SyscallError(errno.EROFS if self.readonly else errno.EACCES) from None
            raise
        if not isinstance(node, GenFileNode) or flags & abi.O_PATH:
            return super().open(task, loc, flags, mode, path)
        if flags & abi.O_CREAT and flags & abi.O_EXCL:
            raise SyscallError(errno.EEXIST)
        if flags & abi.O_DIRECTORY:
            raise SyscallError(errno.ENOTDIR)
        if flags & abi.O_ACCMODE != abi.O_RDONLY and self.readonly:
            raise SyscallError(errno.EROFS)            # a read-only view (readonlyPaths: /proc/sys)
        if flags & abi.O_ACCMODE != abi.O_RDONLY and node.writer is None:
            raise SyscallError(errno.EACCES)
        data = node.content(task) if flags & abi.O_ACCMODE != abi.O_WRONLY else b""
        return ProcFile(self, node, flags, path, loc, data)

    def lstat(self, task: Any, parts: tuple[str, ...]) -> StatInfo:
        st = super().lstat(task, parts)
        st.uid, st.gid = 0, 0
        if parts and parts[0].isdigit():
            owner = _owner_of(task, int(parts[0]))
            if owner is not None:
                st.uid, st.gid = owner
        if st.mode & abi.S_IFMT == abi.S_IFDIR:
            st.nlink = 2
        return st

    def truncate(self, task: Any, parts: tuple[str, ...], length: int) -> None:
        node = self.node_at(task, parts)
        if self.readonly:
            raise SyscallError(errno.EROFS)
        if isinstance(node, GenFileNode) and node.writer is not None:
            return
        raise SyscallError(errno.EACCES)


def _owner_of(task: Any, pid: int) -> tuple[int, int] | None:
    tg = task.kernel.thread_groups.get(pid)
    if tg is None:
        t = task.kernel.tasks.get(pid)
        if t is None:
            return None
        tg = t.tg
    t = tg.leader or next(iter(tg.tasks.values()), None)
    if t is None:
        return (0, 0)
    return t.creds.euid, t.creds.egid


class _ProcRoot(DirNode):
    def __init__(self, fs: ProcFileSystem, ino: int) -> None:
        super().__init__(ino, abi.S_IFDIR | 0o555)
        self.fs = fs

    def lookup(self, task: Any, name: str) -> Node | None:
        if name.isdigit() and not (len(name) > 1 and name[0] == "0"):
            kernel = task.kernel
            n = int(name)
            tg = kernel.thread_groups.get(n)
            if tg is not None and not tg.reaped:
                return self.fs.pid_dir(tg)
            t = kernel.tasks.get(n)            # a thread id: reachable, not listed
            if t is not None:
                return self.fs.pid_dir(t.tg, t)
            if n == task.pid:                  # a caller the kernel has not registered (yet)
                return self.fs.pid_dir(task.tg, task)
            return None
        return self.children.get(name)

    def entries(self, task: Any) -> list[tuple[str, Node]]:
        kernel = task.kernel
        self.fs.forget_dead(kernel)
        out = list(self.children.items())
        groups = {pid: tg for pid, tg in kernel.thread_groups.items() if not tg.reaped}
        for pid in sorted(set(groups) | {task.pid}):
            node = self.lookup(task, str(pid))
            if node is not None:
                out.append((str(pid), node))
        return out


__all__ = ["PROCFS_DEV", "ProcFileSystem", "record_exec", "GenFileNode", "FnDirNode",
           "PathOnlyFile", "SymlinkNode"]
