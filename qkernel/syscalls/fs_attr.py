"""Attributes: chmod/chown/utimensat, umask, truncate, fsync."""
from __future__ import annotations

import errno
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import id_arg, io_file, lookup_at, s64
from qkernel.vfs import abi, ops, perm

_TIMESPEC2 = struct.Struct("<qqqq")


def sys_fchmodat(task: Any, dirfd: int, path: int, mode: int) -> int:
    ops.chmod(task, lookup_at(task, dirfd, path, 0), mode & 0o7777)
    return 0


def sys_chmod(task: Any, path: int, mode: int) -> int:
    return sys_fchmodat(task, abi.AT_FDCWD, path, mode)


def sys_fchmod(task: Any, fd: int, mode: int) -> int:
    io_file(task, fd).chmod(task, mode & 0o7777)
    return 0


def sys_fchownat(task: Any, dirfd: int, path: int, owner: int, group: int, flags: int) -> int:
    if flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH):
        raise SyscallError(errno.EINVAL)
    ops.chown(task, lookup_at(task, dirfd, path, flags), id_arg(owner), id_arg(group))
    return 0


def sys_chown(task: Any, path: int, owner: int, group: int) -> int:
    return sys_fchownat(task, abi.AT_FDCWD, path, owner, group, 0)


def sys_lchown(task: Any, path: int, owner: int, group: int) -> int:
    return sys_fchownat(task, abi.AT_FDCWD, path, owner, group, abi.AT_SYMLINK_NOFOLLOW)


def sys_fchown(task: Any, fd: int, owner: int, group: int) -> int:
    io_file(task, fd).chown(task, id_arg(owner), id_arg(group))
    return 0


def sys_umask(task: Any, mask: int) -> int:
    old = task.fs.umask
    task.fs.umask = mask & 0o777
    return old


def sys_truncate(task: Any, path: int, length: int) -> int:
    length = s64(length)
    if length < 0:
        raise SyscallError(errno.EINVAL)
    ops.truncate(task, lookup_at(task, abi.AT_FDCWD, path, 0), length)
    return 0


def sys_ftruncate(task: Any, fd: int, length: int) -> int:
    length = s64(length)
    if length < 0:
        raise SyscallError(errno.EINVAL)
    f = io_file(task, fd)
    if not f.writable:
        raise SyscallError(errno.EINVAL)
    f.truncate(task, length)
    return 0


def sys_fsync(task: Any, fd: int) -> int:
    io_file(task, fd).fsync(task)
    return 0


def sys_fdatasync(task: Any, fd: int) -> int:
    return sys_fsync(task, fd)


def _read_times(task: Any, addr: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    if addr == 0:
        return None
    a_s, a_ns, m_s, m_ns = _TIMESPEC2.unpack(task.mm.copy_in(addr, _TIMESPEC2.size))
    for ns in (a_ns, m_ns):
        if not (0 <= ns < 1_000_000_000 or ns in (abi.UTIME_NOW, abi.UTIME_OMIT)):
            raise SyscallError(errno.EINVAL)
    return (a_s, a_ns), (m_s, m_ns)


def sys_utimensat(task: Any, dirfd: int, path: int, times: int, flags: int) -> int:
    if flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH):
        raise SyscallError(errno.EINVAL)
    t = _read_times(task, times)
    if t is not None and t[0][1] == abi.UTIME_OMIT and t[1][1] == abi.UTIME_OMIT:
        return 0
    if path == 0:
        # futimens(): the NULL path names dirfd itself.
        if dirfd == abi.AT_FDCWD:
            raise SyscallError(errno.EFAULT)
        flags |= abi.AT_EMPTY_PATH
    res = lookup_at(task, dirfd, path, flags)
    st = ops.stat(task, res)
    c = task.creds
    if c.fsuid != 0 and st.uid != c.fsuid:
        explicit = t is not None and not (t[0][1] == abi.UTIME_NOW and t[1][1] == abi.UTIME_NOW)
        if explicit:
            raise SyscallError(errno.EPERM)
        perm.check(st, c, abi.W_OK)
    ops.utimens(task, res, t)
    return 0
