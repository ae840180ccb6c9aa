"""stat family, getdents, readlink, access."""
from __future__ import annotations

import errno
import os
from typing import Any, Callable

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import any_file, io_file, lookup_at, read_path, s32
from qkernel.vfs import abi, ops, perm
from qkernel.vfs.file import DirEntry

_STAT_AT_FLAGS = abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | abi.AT_NO_AUTOMOUNT
_STATX_RESERVED = 0x8000_0000


def sys_fstat(task: Any, fd: int, buf: int) -> int:
    task.mm.copy_out(buf, abi.pack_stat(any_file(task, fd).stat(task)))
    return 0


def sys_newfstatat(task: Any, dirfd: int, path: int, buf: int, flags: int) -> int:
    if flags & ~_STAT_AT_FLAGS:
        raise SyscallError(errno.EINVAL)
    st = ops.stat(task, lookup_at(task, dirfd, path, flags))
    task.mm.copy_out(buf, abi.pack_stat(st))
    return 0


def sys_stat(task: Any, path: int, buf: int) -> int:
    return sys_newfstatat(task, abi.AT_FDCWD, path, buf, 0)


def sys_lstat(task: Any, path: int, buf: int) -> int:
    return sys_newfstatat(task, abi.AT_FDCWD, path, buf, abi.AT_SYMLINK_NOFOLLOW)


def sys_statx(task: Any, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    if flags & ~(_STAT_AT_FLAGS | abi.AT_STATX_SYNC_TYPE) or flags & abi.AT_STATX_SYNC_TYPE == abi.AT_STATX_SYNC_TYPE:
        raise SyscallError(errno.EINVAL)
    if mask & _STATX_RESERVED:
        raise SyscallError(errno.EINVAL)
    st = ops.stat(task, lookup_at(task, dirfd, path, flags))
    task.mm.copy_out(buf, abi.pack_statx(st, mask))
    return 0


def _getdents(task: Any, fd: int, dirp: int, count: int,
              pack: Callable[[int, int, int, bytes], bytes]) -> int:
    f = io_file(task, fd)
    entries: list[DirEntry] = f.readdir(task)
    out = bytearray()
    with f.lock:
        i = f.offset
        while i < len(entries):
            e = entries[i]
            rec = pack(e.ino, i + 1, e.dtype, e.name)   # d_off: where the next read resumes
            if len(out) + len(rec) > count:
                if not out:
                    raise SyscallError(errno.EINVAL)    # buffer too small for one entry
                break
            out += rec
            i += 1
        if out:
            task.mm.copy_out(dirp, bytes(out))
        f.offset = i
    return len(out)


def sys_getdents64(task: Any, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, abi.pack_dirent64)


def sys_getdents(task: Any, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, abi.pack_dirent)


def sys_readlinkat(task: Any, dirfd: int, path: int, buf: int, bufsiz: int) -> int:
    size = s32(bufsiz)
    if size <= 0:
        raise SyscallError(errno.EINVAL)
    name = read_path(task, path)
    if not name:
        raise SyscallError(errno.ENOENT)
    target = os.fsencode(ops.readlink(task, dirfd, name))[:size]
    task.mm.copy_out(buf, target)
    return len(target)


def sys_readlink(task: Any, path: int, buf: int, bufsiz: int) -> int:
    return sys_readlinkat(task, abi.AT_FDCWD, path, buf, bufsiz)


def sys_faccessat2(task: Any, dirfd: int, path: int, mode: int, flags: int) -> int:
    if mode & ~(abi.R_OK | abi.W_OK | abi.X_OK):
        raise SyscallError(errno.EINVAL)
    if flags & ~(abi.AT_EACCESS | abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH):
        raise SyscallError(errno.EINVAL)
    res = lookup_at(task, dirfd, path, flags)
    st = ops.stat(task, res)
    if mode == abi.F_OK:
        return 0
    kind = st.mode & abi.S_IFMT
    if mode & abi.W_OK and res.loc.file is None and res.loc.fs.readonly and kind in (
            abi.S_IFREG, abi.S_IFDIR, abi.S_IFLNK):
        raise SyscallError(errno.EROFS)
    if not perm.allowed(st, task.creds, mode, use_real=not flags & abi.AT_EACCESS):
        raise SyscallError(errno.EACCES)
    return 0


def sys_faccessat(task: Any, dirfd: int, path: int, mode: int) -> int:
    return sys_faccessat2(task, dirfd, path, mode, 0)


def sys_access(task: Any, path: int, mode: int) -> int:
    return sys_faccessat2(task, abi.AT_FDCWD, path, mode, 0)
