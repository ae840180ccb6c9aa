"""read/write family and lseek."""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import readable_file, writable_file, gather, io_file, read_iovecs, s64, scatter
from qkernel.vfs.file import MAX_RW


_readable = readable_file
_writable = writable_file


def sys_read(task: Any, fd: int, buf: int, count: int) -> int:
    f = _readable(task, fd)
    data = f.read(task, min(count, MAX_RW))
    if data:
        task.mm.copy_out(buf, data)
    return len(data)


def sys_write(task: Any, fd: int, buf: int, count: int) -> int:
    f = _writable(task, fd)
    data = task.mm.copy_in(buf, min(count, MAX_RW)) if count else b""
    return f.write(task, data)


def sys_pread64(task: Any, fd: int, buf: int, count: int, offset: int) -> int:
    f = _readable(task, fd)
    offset = s64(offset)
    if offset < 0:
        raise SyscallError(errno.EINVAL)
    data = f.pread(task, min(count, MAX_RW), offset)
    if data:
        task.mm.copy_out(buf, data)
    return len(data)


def sys_pwrite64(task: Any, fd: int, buf: int, count: int, offset: int) -> int:
    f = _writable(task, fd)
    offset = s64(offset)
    if offset < 0:
        raise SyscallError(errno.EINVAL)
    data = task.mm.copy_in(buf, min(count, MAX_RW)) if count else b""
    return f.pwrite(task, data, offset)


def sys_readv(task: Any, fd: int, iov: int, iovcnt: int) -> int:
    f = _readable(task, fd)
    iovs = read_iovecs(task, iov, iovcnt)
    total = sum(n for _, n in iovs)
    if total == 0:
        return 0
    data = f.read(task, total)
    scatter(task, iovs, data)
    return len(data)


def sys_writev(task: Any, fd: int, iov: int, iovcnt: int) -> int:
    f = _writable(task, fd)
    data = gather(task, read_iovecs(task, iov, iovcnt))
    if not data:
        return 0
    return f.write(task, data)


def sys_lseek(task: Any, fd: int, offset: int, whence: int) -> int:
    f = io_file(task, fd)
    return f.lseek(task, s64(offset), whence)
