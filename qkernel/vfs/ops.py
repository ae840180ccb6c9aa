"""Path operations by guest path: what the file syscalls (and later execve,
bind, ...) call. They resolve the path, pick the mount and let its file
system do the work; rules that do not depend on the file system (mount
points are busy, renames do not cross mounts, creation with a trailing
slash) live here.
"""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.mounts import Location, Vfs
from qkernel.vfs.statinfo import StatInfo
from qkernel.vfs.walk import Resolved, resolve


def vfs_of(task: Any) -> Vfs:
    return task.kernel.vfs


def dir_location(task: Any, dirfd: int) -> Location:
    """Where a relative path starts: the cwd, or an fd that is a directory."""
    if dirfd == abi.AT_FDCWD:
        return task.fs.cwd
    f = task.fds.get(dirfd)
    if not f.is_dir or f.location is None:
        raise SyscallError(errno.ENOTDIR)
    return f.location


def lookup(task: Any, dirfd: int, path: str, follow: bool = True) -> Resolved:
    start = task.fs.root if path.startswith("/") else dir_location(task, dirfd)
    return resolve(vfs_of(task), task, start, path, follow)


def stat(task: Any, res: Resolved) -> StatInfo:
    loc = res.loc
    st = loc.file.stat(task) if loc.file is not None else loc.fs.lstat(task, loc.parts)
    if res.must_dir and st.mode & abi.S_IFMT != abi.S_IFDIR:
        raise SyscallError(errno.ENOTDIR)
    return st


def open_at(task: Any, dirfd: int, path: str, flags: int, mode: int) -> OpenFile:
    if flags & abi.O_TMPFILE == abi.O_TMPFILE:
        raise SyscallError(errno.EOPNOTSUPP)       # TODO: O_TMPFILE
    follow = not flags & abi.O_NOFOLLOW
    res = lookup(task, dirfd, path, follow=follow)
    loc = res.loc
    if res.must_dir:
        if flags & abi.O_CREAT:
            raise SyscallError(errno.EISDIR)
        flags |= abi.O_DIRECTORY
    if loc.file is not None:                       # a magic link to an fd without a path
        if flags & abi.O_CREAT and flags & abi.O_EXCL:
            raise SyscallError(errno.EEXIST)
        return loc.file
    return loc.fs.open(task, loc, flags, mode, loc.path)


def _name_op(task: Any, dirfd: int, path: str, follow: bool = False) -> Location:
    """Lookup for operations on a name itself (mkdir, unlink, ...)."""
    loc = lookup(task, dirfd, path, follow=follow).loc
    if loc.file is not None:
        raise SyscallError(errno.EPERM)
    return loc


def mkdir(task: Any, dirfd: int, path: str, mode: int) -> None:
    loc = _name_op(task, dirfd, path)
    if loc.is_mount_root:
        raise SyscallError(errno.EEXIST)
    loc.fs.mkdir(task, loc.parts, mode)


def mknod(task: Any, dirfd: int, path: str, mode: int, dev: int) -> None:
    loc = _name_op(task, dirfd, path)
    if loc.is_mount_root:
        raise SyscallError(errno.EEXIST)
    loc.fs.mknod(task, loc.parts, mode, dev)


def unlink(task: Any, dirfd: int, path: str) -> None:
    res = lookup(task, dirfd, path, follow=False)
    loc = res.loc
    if loc.is_mount_root:
        raise SyscallError(errno.EBUSY if loc.mount.point else errno.EISDIR)
    if res.must_dir:
        st = loc.fs.lstat(task, loc.parts)
        raise SyscallError(errno.EISDIR if st.mode & abi.S_IFMT == abi.S_IFDIR else errno.ENOTDIR)
    loc.fs.unlink(task, loc.parts)


def rmdir(task: Any, dirfd: int, path: str) -> None:
    stripped = path.rstrip("/")
    if stripped.endswith("/.") or stripped == ".":
        raise SyscallError(errno.EINVAL)
    if stripped.endswith("/..") or stripped == "..":
        raise SyscallError(errno.ENOTEMPTY)
    loc = _name_op(task, dirfd, path)
    if loc.is_mount_root:
        raise SyscallError(errno.EBUSY)
    loc.fs.rmdir(task, loc.parts)


def symlink(task: Any, target: str, dirfd: int, path: str) -> None:
    if not target:
        raise SyscallError(errno.ENOENT)
    loc = _name_op(task, dirfd, path)
    if loc.is_mount_root:
        raise SyscallError(errno.EEXIST)
    loc.fs.symlink(task, target, loc.parts)


def link(task: Any, olddirfd: int, oldpath: str, newdirfd: int, newpath: str, follow: bool) -> None:
    old = _name_op(task, olddirfd, oldpath, follow=follow)
    new = _name_op(task, newdirfd, newpath)
    if new.is_mount_root:
        raise SyscallError(errno.EEXIST)
    if old.mount is not new.mount:
        raise SyscallError(errno.EXDEV)
    if old.is_mount_root:
        raise SyscallError(errno.EPERM)
    old.fs.link(task, old.parts, new.parts)


def rename(task: Any, olddirfd: int, oldpath: str, newdirfd: int, newpath: str, flags: int) -> None:
    if flags & ~(abi.RENAME_NOREPLACE | abi.RENAME_EXCHANGE | abi.RENAME_WHITEOUT) or (
            flags & abi.RENAME_NOREPLACE and flags & abi.RENAME_EXCHANGE):
        raise SyscallError(errno.EINVAL)
    if flags & abi.RENAME_WHITEOUT:
        raise SyscallError(errno.EPERM)
    for p in (oldpath, newpath):
        last = p.rstrip("/").rsplit("/", 1)[-1]
        if last in (".", ".."):
            raise SyscallError(errno.EBUSY if p.rstrip("/") in ("", ".") else errno.EINVAL)
    old = _name_op(task, olddirfd, oldpath)
    new = _name_op(task, newdirfd, newpath)
    if old.is_mount_root or new.is_mount_root:
        raise SyscallError(errno.EBUSY)
    if old.mount is not new.mount:
        raise SyscallError(errno.EXDEV)
    if new.parts[: len(old.parts)] == old.parts and len(new.parts) > len(old.parts):
        raise SyscallError(errno.EINVAL)           # into its own subdirectory
    old.fs.rename(task, old.parts, new.parts, flags)


def readlink(task: Any, dirfd: int, path: str) -> str:
    res = lookup(task, dirfd, path, follow=False)
    if res.loc.file is not None:
        raise SyscallError(errno.EINVAL)
    return res.loc.fs.readlink(task, res.loc.parts)


def chmod(task: Any, res: Resolved, mode: int) -> None:
    loc = res.loc
    if loc.file is not None:
        loc.file.chmod(task, mode)
    else:
        loc.fs.chmod(task, loc.parts, mode)


def chown(task: Any, res: Resolved, uid: int, gid: int) -> None:
    loc = res.loc
    if loc.file is not None:
        loc.file.chown(task, uid, gid)
    else:
        loc.fs.chown(task, loc.parts, uid, gid)


def truncate(task: Any, res: Resolved, length: int) -> None:
    loc = res.loc
    if loc.file is not None:
        loc.file.truncate(task, length)
    else:
        loc.fs.truncate(task, loc.parts, length)


def utimens(task: Any, res: Resolved, times: tuple[tuple[int, int], tuple[int, int]] | None) -> None:
    loc = res.loc
    if loc.file is not None:
        now = (0, abi.UTIME_NOW)
        a, m = times if times is not None else (now, now)
        loc.file.utimens(task, a, m)
    else:
        loc.fs.utimens(task, loc.parts, times)
