"""/proc, minimal: self, <pid>/{exe,cwd,root,fd/N}. Everything else ENOENT.

/proc/<pid>/fd/N are "magic links": following one yields the open file
itself (a pipe or the host tty has no path to re-resolve).
"""
from __future__ import annotations

from typing import Any

from qkernel.vfs import abi
from qkernel.vfs.memfs import DirNode, MemFileSystem, Node, SymlinkNode
from qkernel.vfs.statinfo import StatInfo

PROCFS_DEV = 0x04


class _FdDir(DirNode):
    def __init__(self, fs: MemFileSystem, ino: int) -> None:
        super().__init__(ino, abi.S_IFDIR | 0o500)
        self.fs = fs
        self._links: dict[int, SymlinkNode] = {}

    def _link(self, fd: int) -> SymlinkNode:
        node = self._links.get(fd)
        if node is None:
            node = SymlinkNode(self.fs.new_ino(), lambda task, fd=fd: task.fds.get(fd))
            node.mode = abi.S_IFLNK | 0o700
            self._links[fd] = node
        return node

    def lookup(self, task: Any, name: str) -> Node | None:
        if not name.isdigit() or task.fds.lookup(int(name)) is None:
            return None
        return self._link(int(name))

    def entries(self, task: Any) -> list[tuple[str, Node]]:
        return [(str(fd), self._link(fd)) for fd in task.fds.fds()]


class _PidDir(DirNode):
    def __init__(self, fs: MemFileSystem, ino: int) -> None:
        super().__init__(ino, abi.S_IFDIR | 0o555)
        self.children = {
            "exe": SymlinkNode(fs.new_ino(), lambda task: task.exe_path or "/"),
            "cwd": SymlinkNode(fs.new_ino(), lambda task: task.fs.cwd.path),
            "root": SymlinkNode(fs.new_ino(), "/"),
            "fd": _FdDir(fs, fs.new_ino()),
        }


class _ProcRoot(DirNode):
    def __init__(self, fs: MemFileSystem, ino: int) -> None:
        super().__init__(ino, abi.S_IFDIR | 0o555)
        self.children = {"self": SymlinkNode(fs.new_ino(), lambda task: str(task.pid))}
        self.pid_dir = _PidDir(fs, fs.new_ino())

    def lookup(self, task: Any, name: str) -> Node | None:
        # TODO(processes): one directory per task of the kernel, not just the caller.
        if name == str(task.pid):
            return self.pid_dir
        return self.children.get(name)

    def entries(self, task: Any) -> list[tuple[str, Node]]:
        return list(self.children.items()) + [(str(task.pid), self.pid_dir)]


class ProcFileSystem(MemFileSystem):
    name = "proc"

    def __init__(self) -> None:
        super().__init__(PROCFS_DEV, readonly=False)
        self.root = _ProcRoot(self, self.new_ino())

    def lstat(self, task: Any, parts: tuple[str, ...]) -> StatInfo:
        st = super().lstat(task, parts)
        st.uid, st.gid = task.creds.euid, task.creds.egid   # the task's own files
        return st
