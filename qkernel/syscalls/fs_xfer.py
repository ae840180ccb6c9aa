"""sendfile, copy_file_range and the positioned vector I/O calls
(preadv/pwritev and their v2 forms).

sendfile and copy_file_range are read/write loops in QKernel. They run on
the task's own thread (spec context: vcpu), so a write that has to wait for
room in a pipe may block without having consumed input that a re-run would
lose. Once some bytes have moved, a later error ends the loop with the
count so far, as Linux reports partial transfers.
"""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import MustExit, SyscallError
from qkernel.syscalls.fs_common import readable_file, writable_file, gather, read_iovecs, s64, scatter
from qkernel.vfs import abi
from qkernel.vfs.file import MAX_RW, OpenFile

CHUNK = 1 << 20
MAX_RW_COUNT = 0x7FFF_F000

RWF_HIPRI = 0x01
RWF_DSYNC = 0x02
RWF_SYNC = 0x04
RWF_NOWAIT = 0x08
RWF_APPEND = 0x10
RWF_NOAPPEND = 0x20
RWF_SUPPORTED = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND


_readable = readable_file
_writable = writable_file


def _tell(task: Any, f: OpenFile) -> int:
    return f.lseek(task, 0, abi.SEEK_CUR)


def _is_regular(task: Any, f: OpenFile) -> bool:
    return f.stat(task).mode & abi.S_IFMT == abi.S_IFREG


# -- sendfile -------------------------------------------------------------------
def sys_sendfile(task: Any, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    in_f = _readable(task, in_fd)
    out_f = _writable(task, out_fd)
    if out_f.flags & abi.O_APPEND:
        raise SyscallError(errno.EINVAL)
    if in_f.is_dir or out_f.is_dir:
        raise SyscallError(errno.EINVAL)
    pos: int | None = None
    if offset:
        pos = s64(task.mm.read_u64(offset))
        if not in_f.seekable:
            raise SyscallError(errno.ESPIPE)
        if pos < 0:
            raise SyscallError(errno.EINVAL)
    count = min(count, MAX_RW_COUNT)
    done = 0
    use_offset = in_f.seekable
    cur = pos if pos is not None else (_tell(task, in_f) if use_offset else 0)
    try:
        while done < count:
            n = min(CHUNK, count - done)
            if use_offset:
                data = in_f.pread(task, n, cur)
            else:
                data = in_f.read(task, n)            # a pipe: what is there (waits for some)
            if not data:
                break
            written = out_f.write(task, data)
            done += written
            if use_offset:
                cur += written
                if pos is None:
                    in_f.lseek(task, cur, abi.SEEK_SET)
            if written < len(data) or (not use_offset and len(data) < n):
                break
    except MustExit:
        if done:
            return _finish(task, offset, cur if pos is not None else None, done)
        raise
    except SyscallError:
        if not done:
            raise
    return _finish(task, offset, cur if pos is not None else None, done)


def _finish(task: Any, offset_addr: int, new_pos: int | None, done: int) -> int:
    if offset_addr and new_pos is not None:
        task.mm.write_u64(offset_addr, new_pos & 0xFFFF_FFFF_FFFF_FFFF)
    return done


# -- copy_file_range --------------------------------------------------------------
def sys_copy_file_range(task: Any, fd_in: int, off_in: int, fd_out: int, off_out: int,
                        length: int, flags: int) -> int:
    if flags:
        raise SyscallError(errno.EINVAL)
    in_f = _readable(task, fd_in)
    out_f = _writable(task, fd_out)
    if out_f.flags & abi.O_APPEND:
        raise SyscallError(errno.EBADF)
    if in_f.is_dir or out_f.is_dir:
        raise SyscallError(errno.EISDIR)
    if not _is_regular(task, in_f) or not _is_regular(task, out_f):
        raise SyscallError(errno.EINVAL)
    pin = s64(task.mm.read_u64(off_in)) if off_in else _tell(task, in_f)
    pout = s64(task.mm.read_u64(off_out)) if off_out else _tell(task, out_f)
    if pin < 0 or pout < 0:
        raise SyscallError(errno.EINVAL)
    length = min(length, MAX_RW_COUNT)
    if length == 0:
        return 0
    sin, sout = in_f.stat(task), out_f.stat(task)
    if (sin.dev, sin.ino) == (sout.dev, sout.ino) and pin < pout + length and pout < pin + length:
        raise SyscallError(errno.EINVAL)           # overlapping ranges of one file
    done = 0
    try:
        while done < length:
            data = in_f.pread(task, min(CHUNK, length - done), pin + done)
            if not data:
                break
            written = out_f.pwrite(task, data, pout + done)
            done += written
            if written < len(data):
                break
    except SyscallError:
        if not done:
            raise
    if off_in:
        task.mm.write_u64(off_in, pin + done)
    else:
        in_f.lseek(task, pin + done, abi.SEEK_SET)
    if off_out:
        task.mm.write_u64(off_out, pout + done)
    else:
        out_f.lseek(task, pout + done, abi.SEEK_SET)
    return done


# -- preadv / pwritev ---------------------------------------------------------------
def _pos(pos_l: int, pos_h: int) -> int:
    del pos_h                  # x86-64: the low word carries the whole offset
    return s64(pos_l)


def _preadv(task: Any, fd: int, iov: int, vlen: int, offset: int, flags: int) -> int:
    if flags & ~RWF_SUPPORTED:
        raise SyscallError(errno.EOPNOTSUPP)
    f = _readable(task, fd)
    iovs = read_iovecs(task, iov, vlen)
    total = sum(n for _, n in iovs)
    if offset == -1:
        data = f.read(task, total) if total else b""
    else:
        if offset < 0:
            raise SyscallError(errno.EINVAL)
        if not f.seekable:
            raise SyscallError(errno.ESPIPE)
        data = f.pread(task, min(total, MAX_RW), offset) if total else b""
    scatter(task, iovs, data)
    return len(data)


def _pwritev(task: Any, fd: int, iov: int, vlen: int, offset: int, flags: int) -> int:
    if flags & ~RWF_SUPPORTED:
        raise SyscallError(errno.EOPNOTSUPP)
    f = _writable(task, fd)
    data = gather(task, read_iovecs(task, iov, vlen))
    if offset != -1:
        if offset < 0:
            raise SyscallError(errno.EINVAL)
        if not f.seekable:
            raise SyscallError(errno.ESPIPE)
    if not data:
        return 0
    append = bool(flags & RWF_APPEND) or (bool(f.flags & abi.O_APPEND) and not flags & RWF_NOAPPEND)
    if offset == -1:
        if flags & RWF_APPEND and f.seekable and not f.flags & abi.O_APPEND:
            with_end = f.stat(task).size
            n = f.pwrite(task, data, with_end)
            f.lseek(task, with_end + n, abi.SEEK_SET)
            return n
        return f.write(task, data)
    if append and f.seekable:
        offset = f.stat(task).size                 # Linux: O_APPEND/RWF_APPEND writes go to the end
    return f.pwrite(task, data, offset)


def sys_preadv(task: Any, fd: int, vec: int, vlen: int, pos_l: int, pos_h: int) -> int:
    off = _pos(pos_l, pos_h)
    if off < 0:
        raise SyscallError(errno.EINVAL)
    return _preadv(task, fd, vec, vlen, off, 0)


def sys_pwritev(task: Any, fd: int, vec: int, vlen: int, pos_l: int, pos_h: int) -> int:
    off = _pos(pos_l, pos_h)
    if off < 0:
        raise SyscallError(errno.EINVAL)
    return _pwritev(task, fd, vec, vlen, off, 0)


def sys_preadv2(task: Any, fd: int, vec: int, vlen: int, pos_l: int, pos_h: int, flags: int) -> int:
    return _preadv(task, fd, vec, vlen, _pos(pos_l, pos_h), flags & 0xFFFF_FFFF)


def sys_pwritev2(task: Any, fd: int, vec: int, vlen: int, pos_l: int, pos_h: int, flags: int) -> int:
    return _pwritev(task, fd, vec, vlen, _pos(pos_l, pos_h), flags & 0xFFFF_FFFF)
