"""Helpers shared by the file syscalls: guest paths, fds, iovecs, limits."""
from __future__ import annotations

import errno
import os
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi, ops
from qkernel.vfs.fdtable import NR_OPEN
from qkernel.vfs.file import MAX_RW, OpenFile
from qkernel.vfs.mounts import Location
from qkernel.vfs.walk import PATH_MAX, Resolved

RLIMIT_NOFILE = 7
IOV_MAX = 1024
_IOVEC = struct.Struct("<QQ")


def read_path(task: Any, addr: int) -> str:
    """A guest path; bytes that are not UTF-8 survive as surrogates."""
    return os.fsdecode(task.mm.read_cstring(addr, PATH_MAX))


def nofile_limit(task: Any) -> int:
    return min(task.limits.get(RLIMIT_NOFILE)[0], NR_OPEN)


def any_file(task: Any, fd: int) -> OpenFile:
    """Any open fd, O_PATH ones included (fstat, fchdir, *at dirfd)."""
    return task.fds.get(fd)


def io_file(task: Any, fd: int) -> OpenFile:
    """An fd usable for I/O and ioctls: O_PATH descriptors are EBADF."""
    f = task.fds.get(fd)
    if f.flags & abi.O_PATH:
        raise SyscallError(errno.EBADF)
    return f


def install(task: Any, f: OpenFile, cloexec: bool) -> int:
    """Give an opened file an fd; a file nobody holds yet is released on failure."""
    try:
        return task.fds.install(f, cloexec, nofile_limit(task))
    except SyscallError:
        if f.refs == 0:
            f.release()
        raise


def lookup_at(task: Any, dirfd: int, path_addr: int, flags: int, follow_default: bool = True) -> Resolved:
    """The *at() lookup: AT_SYMLINK_NOFOLLOW / AT_SYMLINK_FOLLOW and
    AT_EMPTY_PATH (the dirfd itself, when the path is empty or NULL)."""
    path = "" if path_addr == 0 and flags & abi.AT_EMPTY_PATH else read_path(task, path_addr)
    if not path:
        if not flags & abi.AT_EMPTY_PATH:
            raise SyscallError(errno.ENOENT)
        if dirfd == abi.AT_FDCWD:
            return Resolved(task.fs.cwd)
        f = any_file(task, dirfd)
        loc = f.location or ops.vfs_of(task).root()
        return Resolved(Location(loc.mount, loc.parts, file=f))
    follow = follow_default
    if flags & abi.AT_SYMLINK_NOFOLLOW:
        follow = False
    if flags & abi.AT_SYMLINK_FOLLOW:
        follow = True
    return ops.lookup(task, dirfd, path, follow)


def read_iovecs(task: Any, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    """(base, len) pairs; the total is capped as Linux caps it (MAX_RW here)."""
    if iovcnt < 0 or iovcnt > IOV_MAX:
        raise SyscallError(errno.EINVAL)
    raw = task.mm.copy_in(iov, iovcnt * _IOVEC.size) if iovcnt else b""
    out: list[tuple[int, int]] = []
    total = 0
    for i in range(iovcnt):
        base, length = _IOVEC.unpack_from(raw, i * _IOVEC.size)
        if length > 0x7FFF_FFFF_FFFF_FFFF:
            raise SyscallError(errno.EINVAL)
        length = min(length, MAX_RW - total)
        total += length
        out.append((base, length))
    return out


def gather(task: Any, iovs: list[tuple[int, int]]) -> bytes:
    return b"".join(task.mm.copy_in(b, n) for b, n in iovs if n)


def scatter(task: Any, iovs: list[tuple[int, int]], data: bytes) -> None:
    pos = 0
    for base, n in iovs:
        if pos >= len(data):
            break
        chunk = data[pos:pos + n]
        if chunk:
            task.mm.copy_out(base, chunk)
        pos += len(chunk)


def s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def s64(v: int) -> int:
    v &= 0xFFFF_FFFF_FFFF_FFFF
    return v - (1 << 64) if v & (1 << 63) else v


def id_arg(v: int) -> int:
    """uid_t/gid_t argument: (uid_t)-1 means 'leave unchanged'."""
    v &= 0xFFFF_FFFF
    return -1 if v == 0xFFFF_FFFF else v


def readable_file(task: Any, fd: int) -> OpenFile:
    """The open file behind `fd`, which must be open for reading (EBADF)."""
    f = io_file(task, fd)
    if not f.readable:
        raise SyscallError(errno.EBADF)
    return f


def writable_file(task: Any, fd: int) -> OpenFile:
    """The open file behind `fd`, which must be open for writing (EBADF)."""
    f = io_file(task, fd)
    if not f.writable:
        raise SyscallError(errno.EBADF)
    return f


def install_pair(task: Any, a: OpenFile, b: OpenFile, cloexec: bool, addr: int) -> None:
    """Install two new files and write their fds (two ints) at `addr`;
    on any failure neither stays installed (pipe2, socketpair)."""
    fa = install(task, a, cloexec)
    try:
        fb = install(task, b, cloexec)
    except SyscallError:
        task.fds.close(fa)
        raise
    try:
        task.mm.copy_out(addr, struct.pack("<ii", fa, fb))
    except SyscallError:
        task.fds.close(fa)
        task.fds.close(fb)
        raise
