"""/dev: the in-kernel character devices and the standard symlinks."""
from __future__ import annotations

import errno
import os
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import MAX_RW, OpenFile
from qkernel.vfs.memfs import DeviceNode, DirNode, MemFileSystem, SymlinkNode
from qkernel.vfs.statinfo import StatInfo

DEVFS_DEV = 0x06


class DeviceFile(OpenFile):
    """Reads and writes at any offset behave the same, so pread/pwrite are
    the primitives and the offset just moves."""
    seekable = True

    def __init__(self, node: DeviceNode, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.node = node

    def stat(self, task: Any) -> StatInfo:
        return self.node.stat(task, DEVFS_DEV)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        self.offset = 0                # Linux: seeking a null/zero device always yields 0
        return 0

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return b""

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        return len(data)


class NullFile(DeviceFile):
    pass


class ZeroFile(DeviceFile):
    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return bytes(min(n, MAX_RW))


class FullFile(ZeroFile):
    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        raise SyscallError(errno.ENOSPC)


class RandomFile(DeviceFile):
    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return os.urandom(min(n, MAX_RW))


def _chr(fs: MemFileSystem, major: int, minor: int, cls: type[DeviceFile]) -> DeviceNode:
    return DeviceNode(fs.new_ino(), abi.S_IFCHR | 0o666, abi.makedev(major, minor),
                      lambda node, flags, path: cls(node, flags, path))


def build_devfs() -> MemFileSystem:
    fs = MemFileSystem(DEVFS_DEV)
    root = fs.root
    root.mode = abi.S_IFDIR | 0o755
    c = root.children
    c["null"] = _chr(fs, 1, 3, NullFile)
    c["zero"] = _chr(fs, 1, 5, ZeroFile)
    c["full"] = _chr(fs, 1, 7, FullFile)
    c["random"] = _chr(fs, 1, 8, RandomFile)
    c["urandom"] = _chr(fs, 1, 9, RandomFile)
    c["fd"] = SymlinkNode(fs.new_ino(), "/proc/self/fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        c[name] = SymlinkNode(fs.new_ino(), f"/proc/self/fd/{i}")
    c["ptmx"] = SymlinkNode(fs.new_ino(), "pts/ptmx")
    c["pts"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o755)
    c["shm"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o1777)     # hidden by a tmpfs mount if configured
    c["mqueue"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o755)
    return fs
