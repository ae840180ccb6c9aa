"""In-kernel file systems (devices, procfs, placeholders): a tree of nodes
living in QKernel's memory; nothing here touches the host's file system.

Directories may be dynamic (procfs lists a task's fds), so a DirNode answers
lookup() and entries() with the task asking.
"""
from __future__ import annotations

import copy
import errno
import time
from typing import Any, Callable

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import DirEntry, OpenFile
from qkernel.vfs.fsbase import FileSystem, LinkTarget, Parts
from qkernel.vfs.mounts import Location
from qkernel.vfs.statinfo import StatInfo

_BOOT_NS = time.time_ns()


class Node:
    mode = 0

    def __init__(self, ino: int, mode: int) -> None:
        self.ino = ino
        self.mode = mode

    def stat(self, task: Any, dev: int) -> StatInfo:
        return StatInfo(dev=dev, ino=self.ino, mode=self.mode, nlink=1, atime_ns=_BOOT_NS,
                        mtime_ns=_BOOT_NS, ctime_ns=_BOOT_NS)


class DirNode(Node):
    def __init__(self, ino: int, mode: int = abi.S_IFDIR | 0o555) -> None:
        super().__init__(ino, mode)
        self.children: dict[str, Node] = {}

    def lookup(self, task: Any, name: str) -> Node | None:
        return self.children.get(name)

    def entries(self, task: Any) -> list[tuple[str, Node]]:
        return list(self.children.items())


class SymlinkNode(Node):
    def __init__(self, ino: int, target: Callable[[Any], LinkTarget] | str) -> None:
        super().__init__(ino, abi.S_IFLNK | 0o777)
        self._target = target

    def target(self, task: Any) -> LinkTarget:
        return self._target if isinstance(self._target, str) else self._target(task)

    def text(self, task: Any) -> str:
        t = self.target(task)
        return t if isinstance(t, str) else t.proc_link()


class DeviceNode(Node):
    """A character device; `opener(node, flags, path)` makes its OpenFile."""

    def __init__(self, ino: int, mode: int, rdev: int,
                 opener: Callable[["DeviceNode", int, str], OpenFile]) -> None:
        super().__init__(ino, mode)
        self.rdev = rdev
        self.opener = opener

    def stat(self, task: Any, dev: int) -> StatInfo:
        s = super().stat(task, dev)
        s.rdev = self.rdev
        return s

    def open(self, task: Any, flags: int, path: str, dev: int) -> OpenFile:
        """A new open file; devices whose open depends on the caller
        (/dev/tty: its controlling terminal) override this."""
        return self.opener(self, flags, path)


class MemDirFile(OpenFile):
    """An open in-kernel directory."""
    seekable = True

    def __init__(self, fs: "MemFileSystem", node: DirNode, flags: int, path: str, loc: Location) -> None:
        super().__init__(flags, path, loc)
        self.fs, self.node = fs, node

    @property
    def is_dir(self) -> bool:
        return True

    def read(self, task: Any, n: int) -> bytes:
        raise SyscallError(errno.EISDIR)

    def stat(self, task: Any) -> StatInfo:
        return self.node.stat(task, self.fs.dev)

    def readdir(self, task: Any) -> list[DirEntry]:
        out = [DirEntry(self.node.ino, abi.DT_DIR, b"."), DirEntry(self.node.ino, abi.DT_DIR, b"..")]
        for name, child in self.node.entries(task):
            out.append(DirEntry(child.ino, abi.dtype_of_mode(child.mode), name.encode()))
        return out


class PathOnlyFile(OpenFile):
    """O_PATH descriptor of an in-kernel node (symlink, device, ...)."""

    def __init__(self, fs: "MemFileSystem", node: Node, flags: int, path: str, loc: Location) -> None:
        super().__init__(flags, path, loc)
        self.fs, self.node = fs, node

    @property
    def is_dir(self) -> bool:
        return isinstance(self.node, DirNode)

    def stat(self, task: Any) -> StatInfo:
        return self.node.stat(task, self.fs.dev)


class MemFileSystem(FileSystem):
    name = "mem"

    def __init__(self, dev: int, readonly: bool = False, root: Node | None = None) -> None:
        self.dev = dev
        self.readonly = readonly
        self._next_ino = 1
        # The root is usually a directory; any node may be one (a file
        # mounted over a file: masked paths mount /dev/null's node).
        self.root: Node = root if root is not None else DirNode(self.new_ino())

    def new_ino(self) -> int:
        self._next_ino += 1
        return self._next_ino

    def subtree(self, task: Any, parts: Parts, readonly: bool) -> "MemFileSystem":
        """The node at `parts` as the root of another file system, as a bind
        mount of it is on Linux: the same nodes (same inode numbers, same
        generated content), seen through a mount of its own that may be
        read-only when this one is not. Subclasses keep their behaviour."""
        view = copy.copy(self)
        view.root = self.node_at(task, parts)
        view.readonly = readonly
        view.new_ino = self.new_ino        # type: ignore[method-assign]  # one inode numbering for both
        return view

    def node_at(self, task: Any, parts: Parts) -> Node:
        node: Node = self.root
        for name in parts:
            if not isinstance(node, DirNode):
                raise SyscallError(errno.ENOTDIR)
            nxt = node.lookup(task, name)
            if nxt is None:
                raise SyscallError(errno.ENOENT)
            node = nxt
        return node

    def first_symlink(self, task: Any, base: Parts, names: Parts,
                      follow_last: bool) -> tuple[int, LinkTarget] | None:
        try:
            node = self.node_at(task, base)
        except SyscallError:
            return None
        for i, name in enumerate(names):
            if not isinstance(node, DirNode):
                return None
            nxt = node.lookup(task, name)
            if nxt is None:
                return None
            if isinstance(nxt, SymlinkNode) and (follow_last or i < len(names) - 1):
                return i, nxt.target(task)
            node = nxt
        return None

    def lstat(self, task: Any, parts: Parts) -> StatInfo:
        return self.node_at(task, parts).stat(task, self.dev)

    def readlink(self, task: Any, parts: Parts) -> str:
        node = self.node_at(task, parts)
        if not isinstance(node, SymlinkNode):
            raise SyscallError(errno.EINVAL)
        return node.text(task)

    def open(self, task: Any, loc: Location, flags: int, mode: int, path: str) -> OpenFile:
        try:
            node = self.node_at(task, loc.parts)
        except SyscallError as e:
            if e.errno == errno.ENOENT and flags & abi.O_CREAT:
                raise SyscallError(errno.EROFS if self.readonly else errno.EACCES) from None
            raise
        if flags & abi.O_CREAT and flags & abi.O_EXCL:
            raise SyscallError(errno.EEXIST)
        if flags & abi.O_PATH:
            return PathOnlyFile(self, node, flags, path, loc)
        if isinstance(node, SymlinkNode):
            raise SyscallError(errno.ELOOP)
        if flags & abi.O_DIRECTORY and not isinstance(node, DirNode):
            raise SyscallError(errno.ENOTDIR)
        if isinstance(node, DirNode):
            if flags & abi.O_ACCMODE != abi.O_RDONLY:
                raise SyscallError(errno.EISDIR)
            return MemDirFile(self, node, flags, path, loc)
        if isinstance(node, DeviceNode):
            f = node.open(task, flags, path, self.dev)
            f.location = loc
            return f
        raise SyscallError(errno.ENXIO)

    def _refuse(self) -> None:
        raise SyscallError(errno.EROFS if self.readonly else errno.EPERM)

    def mkdir(self, task: Any, parts: Parts, mode: int) -> None:
        if not parts:
            raise SyscallError(errno.EEXIST)
        self._refuse()

    def unlink(self, task: Any, parts: Parts) -> None:
        self.node_at(task, parts)
        self._refuse()

    rmdir = unlink

    def symlink(self, task: Any, target: str, parts: Parts) -> None:
        self._refuse()

    def rename(self, task: Any, old: Parts, new: Parts, flags: int) -> None:
        self._refuse()

    def chmod(self, task: Any, parts: Parts, mode: int) -> None:
        self.node_at(task, parts)
        self._refuse()

    def chown(self, task: Any, parts: Parts, uid: int, gid: int) -> None:
        self.node_at(task, parts)
        self._refuse()

    def utimens(self, task: Any, parts: Parts, times: Any) -> None:
        self.node_at(task, parts)
        if self.readonly:
            raise SyscallError(errno.EROFS)
        # Devices: timestamps are not kept; accept silently as tmpfs would.
