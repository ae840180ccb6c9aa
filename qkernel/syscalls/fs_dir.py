"""Working directory and name operations (mkdir, unlink, rename, links)."""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import any_file, read_path
from qkernel.vfs import abi, ops, perm


def sys_getcwd(task: Any, buf: int, size: int) -> int:
    path = task.fs.cwd_path.encode("utf-8", "surrogateescape") + b"\0"
    if len(path) > size:
        raise SyscallError(errno.ERANGE)
    task.mm.copy_out(buf, path)
    return len(path)


def sys_chdir(task: Any, path: int) -> int:
    res = ops.lookup(task, abi.AT_FDCWD, read_path(task, path))
    st = ops.stat(task, res)
    if st.mode & abi.S_IFMT != abi.S_IFDIR:
        raise SyscallError(errno.ENOTDIR)
    perm.check(st, task.creds, abi.X_OK)
    loc = res.loc
    if loc.file is not None:
        if loc.file.location is None:
            raise SyscallError(errno.ENOTDIR)
        loc = loc.file.location
    task.fs.cwd = loc
    return 0


def sys_fchdir(task: Any, fd: int) -> int:
    f = any_file(task, fd)
    if not f.is_dir or f.location is None:
        raise SyscallError(errno.ENOTDIR)
    perm.check(f.stat(task), task.creds, abi.X_OK)
    task.fs.cwd = f.location
    return 0


def sys_mkdirat(task: Any, dirfd: int, path: int, mode: int) -> int:
    ops.mkdir(task, dirfd, read_path(task, path), mode & 0o7777)
    return 0


def sys_mkdir(task: Any, path: int, mode: int) -> int:
    return sys_mkdirat(task, abi.AT_FDCWD, path, mode)


_MKNOD_KINDS = (0, abi.S_IFREG, abi.S_IFCHR, abi.S_IFBLK, abi.S_IFIFO, abi.S_IFSOCK)


def sys_mknodat(task: Any, dirfd: int, path: int, mode: int, dev: int) -> int:
    kind = mode & abi.S_IFMT
    if kind == abi.S_IFDIR:
        raise SyscallError(errno.EPERM)
    if kind not in _MKNOD_KINDS:
        raise SyscallError(errno.EINVAL)
    ops.mknod(task, dirfd, read_path(task, path), mode & 0xFFFF, dev)
    return 0


def sys_mknod(task: Any, path: int, mode: int, dev: int) -> int:
    return sys_mknodat(task, abi.AT_FDCWD, path, mode, dev)


def sys_unlinkat(task: Any, dirfd: int, path: int, flags: int) -> int:
    if flags & ~abi.AT_REMOVEDIR:
        raise SyscallError(errno.EINVAL)
    name = read_path(task, path)
    if flags & abi.AT_REMOVEDIR:
        ops.rmdir(task, dirfd, name)
    else:
        ops.unlink(task, dirfd, name)
    return 0


def sys_unlink(task: Any, path: int) -> int:
    return sys_unlinkat(task, abi.AT_FDCWD, path, 0)


def sys_rmdir(task: Any, path: int) -> int:
    return sys_unlinkat(task, abi.AT_FDCWD, path, abi.AT_REMOVEDIR)


def sys_renameat2(task: Any, olddirfd: int, oldpath: int, newdirfd: int, newpath: int, flags: int) -> int:
    ops.rename(task, olddirfd, read_path(task, oldpath), newdirfd, read_path(task, newpath), flags)
    return 0


def sys_renameat(task: Any, olddirfd: int, oldpath: int, newdirfd: int, newpath: int) -> int:
    return sys_renameat2(task, olddirfd, oldpath, newdirfd, newpath, 0)


def sys_rename(task: Any, oldpath: int, newpath: int) -> int:
    return sys_renameat2(task, abi.AT_FDCWD, oldpath, abi.AT_FDCWD, newpath, 0)


def sys_symlinkat(task: Any, target: int, newdirfd: int, linkpath: int) -> int:
    ops.symlink(task, read_path(task, target), newdirfd, read_path(task, linkpath))
    return 0


def sys_symlink(task: Any, target: int, linkpath: int) -> int:
    return sys_symlinkat(task, target, abi.AT_FDCWD, linkpath)


def sys_linkat(task: Any, olddirfd: int, oldpath: int, newdirfd: int, newpath: int, flags: int) -> int:
    if flags & ~(abi.AT_SYMLINK_FOLLOW | abi.AT_EMPTY_PATH):
        raise SyscallError(errno.EINVAL)
    old = read_path(task, oldpath)
    if not old:
        # AT_EMPTY_PATH links need CAP_DAC_READ_SEARCH; not offered in v0.
        raise SyscallError(errno.ENOENT)
    ops.link(task, olddirfd, old, newdirfd, read_path(task, newpath), bool(flags & abi.AT_SYMLINK_FOLLOW))
    return 0


def sys_link(task: Any, oldpath: int, newpath: int) -> int:
    return sys_linkat(task, abi.AT_FDCWD, oldpath, abi.AT_FDCWD, newpath, 0)
