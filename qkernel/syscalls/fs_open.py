"""open/close, dup family, fcntl, ioctl, pipes."""
from __future__ import annotations

import errno
import fcntl as host_fcntl
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import any_file, install, install_pair, io_file, nofile_limit, read_path, s32
from qkernel.vfs import abi, ops
from qkernel.vfs.hostfile import HostFile
from qkernel.vfs.pipe import PipeEnd

_FLOCK = struct.Struct("<hhqqi")     # struct flock: type, whence, start, len, pid (+4 pad)
FLOCK_SIZE = 32


def sys_openat(task: Any, dirfd: int, path: int, flags: int, mode: int) -> int:
    name = read_path(task, path)
    flags = s32(flags) & 0xFFFF_FFFF
    if flags & abi.O_PATH:
        flags &= abi.O_PATH | abi.O_DIRECTORY | abi.O_NOFOLLOW | abi.O_CLOEXEC
    f = ops.open_at(task, dirfd, name, flags | abi.O_LARGEFILE, mode & 0o7777)
    return install(task, f, bool(flags & abi.O_CLOEXEC))


def sys_open(task: Any, path: int, flags: int, mode: int) -> int:
    return sys_openat(task, abi.AT_FDCWD, path, flags, mode)


def sys_creat(task: Any, path: int, mode: int) -> int:
    return sys_openat(task, abi.AT_FDCWD, path, abi.O_CREAT | abi.O_WRONLY | abi.O_TRUNC, mode)


def sys_close(task: Any, fd: int) -> int:
    task.fds.close(fd)
    return 0


def sys_dup(task: Any, oldfd: int) -> int:
    return task.fds.install(any_file(task, oldfd), False, nofile_limit(task))


def sys_dup2(task: Any, oldfd: int, newfd: int) -> int:
    f = any_file(task, oldfd)
    if oldfd == newfd:
        return newfd
    task.fds.install_at(newfd, f, False, nofile_limit(task))
    return newfd


def sys_dup3(task: Any, oldfd: int, newfd: int, flags: int) -> int:
    if flags & ~abi.O_CLOEXEC or oldfd == newfd:
        raise SyscallError(errno.EINVAL)
    f = any_file(task, oldfd)
    task.fds.install_at(newfd, f, bool(flags & abi.O_CLOEXEC), nofile_limit(task))
    return newfd


def sys_fcntl(task: Any, fd: int, cmd: int, arg: int) -> int:
    f = any_file(task, fd)
    if cmd in (abi.F_DUPFD, abi.F_DUPFD_CLOEXEC):
        lowest = s32(arg)
        if lowest < 0 or lowest >= nofile_limit(task):
            raise SyscallError(errno.EINVAL)
        return task.fds.install(f, cmd == abi.F_DUPFD_CLOEXEC, nofile_limit(task), lowest)
    if cmd == abi.F_GETFD:
        return abi.FD_CLOEXEC if task.fds.get_cloexec(fd) else 0
    if cmd == abi.F_SETFD:
        task.fds.set_cloexec(fd, bool(arg & abi.FD_CLOEXEC))
        return 0
    if cmd == abi.F_GETFL:
        return f.flags
    if cmd == abi.F_SETFL:
        _set_status_flags(f, arg)
        return 0
    if f.flags & abi.O_PATH:
        raise SyscallError(errno.EBADF)
    if cmd in (abi.F_GETLK, abi.F_OFD_GETLK):
        # v0: record locks always succeed (one task per sandbox), so nothing
        # ever conflicts: report the range unlocked.
        raw = bytearray(task.mm.copy_in(arg, FLOCK_SIZE))
        struct.pack_into("<h", raw, 0, abi.F_UNLCK)
        task.mm.copy_out(arg, bytes(raw))
        return 0
    if cmd in (abi.F_SETLK, abi.F_SETLKW, abi.F_OFD_SETLK, abi.F_OFD_SETLKW):
        ltype = struct.unpack("<h", task.mm.copy_in(arg, 2))[0]
        if ltype not in (0, 1, 2):
            raise SyscallError(errno.EINVAL)
        return 0                       # v0: no-op locks (see above)
    if cmd == abi.F_GETOWN:
        return 0
    if cmd == abi.F_SETOWN:
        return 0
    if cmd in (abi.F_GETPIPE_SZ, abi.F_SETPIPE_SZ):
        if not isinstance(f, PipeEnd):
            raise SyscallError(errno.EBADF)
        return f.pipe.capacity
    raise SyscallError(errno.EINVAL)


def _set_status_flags(f: Any, arg: int) -> None:
    new = (f.flags & ~abi.SETFL_MASK) | (arg & abi.SETFL_MASK)
    if isinstance(f, HostFile) and f.fd >= 0:
        # Our own host description: let the host do O_APPEND for us.
        try:
            host_fcntl.fcntl(f.fd, host_fcntl.F_SETFL, new & (abi.O_APPEND | abi.O_NONBLOCK | abi.O_DIRECT
                                                              | abi.O_NOATIME))
        except OSError as e:
            raise SyscallError(e.errno or errno.EINVAL) from None
    f.flags = new


def sys_ioctl(task: Any, fd: int, cmd: int, arg: int) -> int:
    cmd &= 0xFFFF_FFFF
    f = io_file(task, fd)
    if cmd == abi.FIOCLEX:
        task.fds.set_cloexec(fd, True)
        return 0
    if cmd == abi.FIONCLEX:
        task.fds.set_cloexec(fd, False)
        return 0
    if cmd == abi.FIONBIO:
        on = task.mm.read_u32(arg)
        f.flags = f.flags | abi.O_NONBLOCK if on else f.flags & ~abi.O_NONBLOCK
        return 0
    if cmd == abi.FIONREAD:
        task.mm.write_u32(arg, f.bytes_available() & 0xFFFF_FFFF)
        return 0
    return f.ioctl(task, cmd, arg)


def sys_pipe2(task: Any, fds: int, flags: int) -> int:
    if flags & ~(abi.O_CLOEXEC | abi.O_NONBLOCK | abi.O_DIRECT):
        raise SyscallError(errno.EINVAL)
    r, w = ops.vfs_of(task).pipes.make(flags, task.creds.euid, task.creds.egid)
    install_pair(task, r, w, bool(flags & abi.O_CLOEXEC), fds)
    return 0


def sys_pipe(task: Any, fds: int) -> int:
    return sys_pipe2(task, fds, 0)
