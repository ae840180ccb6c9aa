"""Open files backed by a host fd: regular files, directories, and the
sandbox's own stdio (a host tty, pipe or file handed to the container).

The host fd's own offset is the description's offset, so dup'ed guest fds
share it exactly as on Linux, and O_APPEND is the host's.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import stat as st_mod
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import MAX_RW, DirEntry, OpenFile
from qkernel.vfs.hostpath import utimensat
from qkernel.vfs.statinfo import StatInfo


def _host(fn, *a):  # type: ignore[no-untyped-def]
    try:
        return fn(*a)
    except OSError as e:
        raise SyscallError(e.errno or errno.EIO) from None


def in_poller(task: Any) -> bool:
    fn = getattr(task.kernel, "in_poller", None)
    return bool(fn is not None and fn())


# Host fds nobody calls kernel.notify() for: a task waiting on one wakes at
# least this often to see signals and group exit (kernel lock released).
POLL_SLICE_MS = 50
_POLLIN, _POLLPRI, _POLLOUT, _POLLNVAL = select.POLLIN, select.POLLPRI, select.POLLOUT, select.POLLNVAL
SIGPIPE = 13


def host_poll(fd: int, events: int, timeout_ms: int = 0) -> int:
    """The host's revents for `fd` (0 = not ready). Host poll bits are
    Linux's, so they pass through unchanged."""
    if fd < 0:
        return _POLLNVAL
    p = select.poll()
    p.register(fd, events)
    ready = p.poll(timeout_ms)
    return ready[0][1] if ready else 0


def wait_host_fd(task: Any, fd: int, events: int) -> None:
    """Block until the host fd is ready for `events` (or hung up / in error),
    never holding kernel.lock while the host sleeps.

    Between slices the kernel's own wait rules apply: a zero-length
    `wait_until` raises MustExit on the poller, TaskExit when the group
    dies and ERESTARTSYS when a signal must be taken."""
    kernel = task.kernel
    while not host_poll(fd, events):
        kernel.wait_until(task, lambda: False, deadline=0.0)
        with kernel.unlocked():
            host_poll(fd, events, POLL_SLICE_MS)


class HostFdFile(OpenFile):
    """What all host-fd files share: stat, metadata through the fd, release."""

    def __init__(self, fd: int, flags: int, path: str, location: Any = None, readonly: bool = False) -> None:
        super().__init__(flags, path, location)
        self.fd = fd
        self.readonly = readonly

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def stat(self, task: Any) -> StatInfo:
        return StatInfo.from_host(_host(os.fstat, self.fd))

    def poll_events(self, task: Any) -> int:
        """Readiness straight from the host fd (regular files: always ready)."""
        return host_poll(self.fd, _POLLIN | _POLLPRI | _POLLOUT)

    def fsync(self, task: Any) -> None:
        try:
            os.fsync(self.fd)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EROFS):   # ttys/pipes: nothing to flush
                raise SyscallError(e.errno or errno.EIO) from None

    def _check_meta(self) -> None:
        if self.flags & abi.O_PATH:
            raise SyscallError(errno.EBADF)
        if self.readonly:
            raise SyscallError(errno.EROFS)

    def chmod(self, task: Any, mode: int) -> None:
        self._check_meta()
        hst = _host(os.fstat, self.fd)
        if task.creds.fsuid != 0 and hst.st_uid != task.creds.fsuid:
            raise SyscallError(errno.EPERM)
        _host(os.fchmod, self.fd, mode & 0o7777)

    def chown(self, task: Any, uid: int, gid: int) -> None:
        self._check_meta()
        if task.creds.fsuid != 0:
            hst = _host(os.fstat, self.fd)
            if uid != -1 and uid != hst.st_uid or gid != -1 and (
                    hst.st_uid != task.creds.fsuid or (gid != task.creds.fsgid and gid not in task.creds.groups)):
                raise SyscallError(errno.EPERM)
        _host(os.fchown, self.fd, uid, gid)

    def utimens(self, task: Any, atime: tuple[int, int], mtime: tuple[int, int]) -> None:
        self._check_meta()
        utimensat(self.fd, None, (atime, mtime), 0)


class HostFile(HostFdFile):
    """A regular file (or a fifo/socket/device node found in the rootfs)."""
    seekable = True

    def read(self, task: Any, n: int) -> bytes:
        return _host(os.read, self.fd, min(n, MAX_RW))

    def write(self, task: Any, data: bytes) -> int:
        n = _host(os.write, self.fd, data)
        self._written(task, -1, data[:n])
        return n

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return _host(os.pread, self.fd, min(n, MAX_RW), offset)

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        n = _host(os.pwrite, self.fd, data, offset)
        self._written(task, offset, data[:n])
        return n

    def _written(self, task: Any, offset: int, data: bytes) -> None:
        """Keep the page cache (and so MAP_SHARED mappings) in step with writes."""
        kernel = getattr(task, "kernel", None) if task is not None else None
        cache = getattr(kernel, "page_cache", None)
        if cache is None or not data:
            return
        st = os.fstat(self.fd)
        if not cache.knows(st.st_dev, st.st_ino):
            return
        if offset < 0:
            offset = os.lseek(self.fd, 0, os.SEEK_CUR) - len(data)
        cache.file_written(st.st_dev, st.st_ino, offset, data, st.st_mtime_ns, st.st_size)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        return _host(os.lseek, self.fd, offset, whence)

    def truncate(self, task: Any, length: int) -> None:
        if self.readonly:
            raise SyscallError(errno.EROFS)
        if not self.writable:
            raise SyscallError(errno.EINVAL)
        _host(os.ftruncate, self.fd, length)

    def bytes_available(self) -> int:
        hst = _host(os.fstat, self.fd)
        if st_mod.S_ISREG(hst.st_mode):
            return max(0, hst.st_size - _host(os.lseek, self.fd, 0, os.SEEK_CUR))
        raise SyscallError(errno.ENOTTY)


class HostDir(HostFdFile):
    """A directory; getdents pages through a listing taken at offset 0 (the
    offset is an index into it, which is what d_off/lseek hand back)."""
    seekable = True

    def __init__(self, fd: int, flags: int, path: str, location: Any = None, readonly: bool = False) -> None:
        super().__init__(fd, flags, path, location, readonly)
        self._listing: list[DirEntry] | None = None

    @property
    def is_dir(self) -> bool:
        return True

    def read(self, task: Any, n: int) -> bytes:
        raise SyscallError(errno.EISDIR)

    def write(self, task: Any, data: bytes) -> int:
        raise SyscallError(errno.EBADF)

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        raise SyscallError(errno.EISDIR)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        if whence == abi.SEEK_END:
            raise SyscallError(errno.EINVAL)
        return super().lseek(task, offset, whence)

    def readdir(self, task: Any) -> list[DirEntry]:
        if self._listing is None or self.offset == 0:
            self._listing = self._list()
        return self._listing

    def _list(self) -> list[DirEntry]:
        me = _host(os.fstat, self.fd).st_ino
        out = [DirEntry(me, abi.DT_DIR, b"."), DirEntry(me, abi.DT_DIR, b"..")]
        try:
            with os.scandir(self.fd) as it:
                for e in it:
                    out.append(DirEntry(e.inode(), _dtype(e), os.fsencode(e.name)))
        except OSError as e:
            raise SyscallError(e.errno or errno.EIO) from None
        return out


def _dtype(e: os.DirEntry) -> int:  # type: ignore[type-arg]
    try:
        if e.is_symlink():
            return abi.DT_LNK
        if e.is_dir(follow_symlinks=False):
            return abi.DT_DIR
        if e.is_file(follow_symlinks=False):
            return abi.DT_REG
        return abi.dtype_of_mode(e.stat(follow_symlinks=False).st_mode)
    except OSError:
        return abi.DT_UNKNOWN


class HostStream(HostFdFile):
    """The container's stdio: a host tty, pipe or file dup'ed at start-up.
    The container's terminal is a TerminalFile (tty_file.py); a tty here is
    some other host tty, which controls nobody in the guest: its device
    ioctls are forwarded, job-control ones are ENOTTY."""

    def __init__(self, fd: int, flags: int, path: str) -> None:
        super().__init__(fd, flags, path)
        self.is_tty = os.isatty(fd)
        self.seekable = st_mod.S_ISREG(os.fstat(fd).st_mode)

    # A tty or pipe may block for as long as the other side likes: wait for
    # readiness in slices (wait_host_fd) and do the host call itself with
    # kernel.lock released, so other tasks keep running. A regular file
    # never blocks and is served directly.
    def read(self, task: Any, n: int) -> bytes:
        n = min(n, MAX_RW)
        if self.seekable or n <= 0:
            return _host(os.read, self.fd, n)
        if self.flags & abi.O_NONBLOCK:
            if not host_poll(self.fd, _POLLIN):
                raise SyscallError(errno.EAGAIN)
        else:
            wait_host_fd(task, self.fd, _POLLIN)
        with task.kernel.unlocked():
            return _host(os.read, self.fd, n)

    def write(self, task: Any, data: bytes) -> int:
        if self.seekable or not data:
            return _host(os.write, self.fd, data)
        if self.flags & abi.O_NONBLOCK:
            if not host_poll(self.fd, _POLLOUT):
                raise SyscallError(errno.EAGAIN)
        else:
            wait_host_fd(task, self.fd, _POLLOUT)
        try:
            with task.kernel.unlocked():
                return _host(os.write, self.fd, data)
        except SyscallError as e:
            if e.errno == errno.EPIPE:        # the host reader is gone: SIGPIPE, as Linux
                from qkernel.signals import send_signal
                send_signal(task.kernel, task, SIGPIPE)
            raise

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return _host(os.pread, self.fd, min(n, MAX_RW), offset)

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        return _host(os.pwrite, self.fd, data, offset)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        return _host(os.lseek, self.fd, offset, whence)

    def bytes_available(self) -> int:
        buf = _host(fcntl.ioctl, self.fd, abi.FIONREAD, b"\0\0\0\0")
        return struct.unpack("<i", buf)[0]

    def ioctl(self, task: Any, cmd: int, arg: int) -> int:
        if not self.is_tty:
            raise SyscallError(errno.ENOTTY)
        from qkernel.vfs.tty_ioctl import host_ioctl
        return host_ioctl(task, self.fd, cmd, arg)

    def proc_link(self) -> str:
        if self.path:
            return self.path
        hst = os.fstat(self.fd)
        if self.is_tty:
            return "/dev/console"
        if st_mod.S_ISFIFO(hst.st_mode):
            return f"pipe:[{hst.st_ino}]"
        if st_mod.S_ISSOCK(hst.st_mode):
            return f"socket:[{hst.st_ino}]"
        return "/dev/null"
