"""FileSystem: what a mounted file system must answer, by path inside it.

`parts` is always a tuple of plain names (no '', '.', '..'), relative to
the file system's root; the VFS walk has already followed every symlink the
guest's path asked to follow, so operations here never follow symlinks.
Defaults refuse: in-kernel file systems only override what they support.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, Union

from qkernel.errors import SyscallError

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.file import OpenFile
    from qkernel.vfs.mounts import Location
    from qkernel.vfs.statinfo import StatInfo

Parts = tuple[str, ...]
# A symlink's target: a path, or (procfs "magic links") an open file itself.
LinkTarget = Union[str, "OpenFile"]


class FileSystem:
    readonly = False
    name = "none"

    def first_symlink(self, task: Any, base: Parts, names: Parts,
                      follow_last: bool) -> tuple[int, LinkTarget] | None:
        """Index in `names` of the first symlink met walking base+names, and
        its target; the last name counts only if follow_last. None when there
        is none (a missing component is not an error here: the operation
        that follows reports it)."""
        raise NotImplementedError

    def lstat(self, task: Any, parts: Parts) -> "StatInfo":
        raise NotImplementedError

    def readlink(self, task: Any, parts: Parts) -> str:
        raise SyscallError(errno.EINVAL)

    def open(self, task: Any, loc: "Location", flags: int, mode: int, path: str) -> "OpenFile":
        raise NotImplementedError

    def mkdir(self, task: Any, parts: Parts, mode: int) -> None:
        raise SyscallError(errno.EPERM)

    def mknod(self, task: Any, parts: Parts, mode: int, dev: int) -> None:
        raise SyscallError(errno.EPERM)

    def unlink(self, task: Any, parts: Parts) -> None:
        raise SyscallError(errno.EPERM)

    def rmdir(self, task: Any, parts: Parts) -> None:
        raise SyscallError(errno.EPERM)

    def symlink(self, task: Any, target: str, parts: Parts) -> None:
        raise SyscallError(errno.EPERM)

    def link(self, task: Any, old: Parts, new: Parts) -> None:
        raise SyscallError(errno.EPERM)

    def rename(self, task: Any, old: Parts, new: Parts, flags: int) -> None:
        raise SyscallError(errno.EPERM)

    def chmod(self, task: Any, parts: Parts, mode: int) -> None:
        raise SyscallError(errno.EPERM)

    def chown(self, task: Any, parts: Parts, uid: int, gid: int) -> None:
        raise SyscallError(errno.EPERM)

    def truncate(self, task: Any, parts: Parts, length: int) -> None:
        raise SyscallError(errno.EINVAL)

    def utimens(self, task: Any, parts: Parts, times: tuple[tuple[int, int], tuple[int, int]] | None) -> None:
        raise SyscallError(errno.EPERM)

    def close(self) -> None:
        """Release host resources (directory fds, temp dirs)."""
