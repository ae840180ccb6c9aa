"""OpenFile: an open file description (what fds point at; shared by dup).

Subclasses say what the file is (host file, host directory, host stream,
in-kernel device, pipe end, ...). The base class carries what every open
file has: flags, offset, the guest path it was opened by, a reference count
(dup and fork share one description; the backing is released with the last
reference) and the default answers for operations the file does not support.
"""
from __future__ import annotations

import errno
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.mounts import Location
    from qkernel.vfs.statinfo import StatInfo

MAX_RW = 16 << 20        # cap of one read/write (Linux caps at 0x7ffff000)


@dataclass
class DirEntry:
    ino: int
    dtype: int
    name: bytes


class OpenFile:
    seekable = False

    def __init__(self, flags: int, path: str = "", location: "Location | None" = None) -> None:
        self.flags = flags & ~abi.O_CLOEXEC   # close-on-exec belongs to the fd, not here
        self.offset = 0
        self.path = path                      # guest path; what /proc/self/fd/N shows
        self.location = location              # where it was found (fchdir, *at dirfd)
        self.refs = 0
        self.lock = threading.Lock()          # serialises offset updates

    # -- reference counting (FdTable calls these) ----------------------------
    def incref(self) -> None:
        self.refs += 1

    def decref(self) -> None:
        self.refs -= 1
        if self.refs <= 0:
            self.release()

    def release(self) -> None:
        """Free the backing (host fd, pipe end) once no fd refers to us."""

    # -- access mode -----------------------------------------------------------
    @property
    def readable(self) -> bool:
        return not self.flags & abi.O_PATH and (self.flags & abi.O_ACCMODE) in (abi.O_RDONLY, abi.O_RDWR)

    @property
    def writable(self) -> bool:
        return not self.flags & abi.O_PATH and (self.flags & abi.O_ACCMODE) in (abi.O_WRONLY, abi.O_RDWR)

    @property
    def is_dir(self) -> bool:
        return False

    # -- data ------------------------------------------------------------------
    def read(self, task: Any, n: int) -> bytes:
        """read(2) at the file offset; seekable files go through pread."""
        if not self.seekable:
            raise SyscallError(errno.EINVAL)
        with self.lock:
            data = self.pread(task, n, self.offset)
            self.offset += len(data)
            return data

    def write(self, task: Any, data: bytes) -> int:
        if not self.seekable:
            raise SyscallError(errno.EINVAL)
        with self.lock:
            if self.flags & abi.O_APPEND:
                self.offset = self.stat(task).size
            n = self.pwrite(task, data, self.offset)
            self.offset += n
            return n

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        raise SyscallError(errno.ESPIPE)

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        raise SyscallError(errno.ESPIPE)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        if not self.seekable:
            raise SyscallError(errno.ESPIPE)
        with self.lock:
            if whence == abi.SEEK_SET:
                new = offset
            elif whence == abi.SEEK_CUR:
                new = self.offset + offset
            elif whence == abi.SEEK_END:
                new = self.stat(task).size + offset
            elif whence == abi.SEEK_DATA:
                size = self.stat(task).size
                if offset >= size:
                    raise SyscallError(errno.ENXIO)
                new = offset
            elif whence == abi.SEEK_HOLE:
                size = self.stat(task).size
                if offset >= size:
                    raise SyscallError(errno.ENXIO)
                new = size
            else:
                raise SyscallError(errno.EINVAL)
            if new < 0:
                raise SyscallError(errno.EINVAL)
            self.offset = new
            return new

    def readdir(self, task: Any) -> list[DirEntry]:
        """All entries including '.' and '..'; getdents pages through them
        using the offset as an index."""
        raise SyscallError(errno.ENOTDIR)

    def ioctl(self, task: Any, cmd: int, arg: int) -> int:
        raise SyscallError(errno.ENOTTY)

    def bytes_available(self) -> int:
        """FIONREAD."""
        raise SyscallError(errno.ENOTTY)

    # -- readiness (poll/select) -------------------------------------------------
    def poll_events(self, task: Any) -> int:
        """The POLL* bits that hold now. Files that never block answer as
        Linux does for a file without a poll method (DEFAULT_POLLMASK:
        readable and writable whatever the open mode), so poll/select on
        regular files and simple devices match a native run."""
        return 0x1 | 0x4 | 0x40 | 0x100     # POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

    # -- metadata --------------------------------------------------------------
    def stat(self, task: Any) -> "StatInfo":
        raise NotImplementedError

    def truncate(self, task: Any, length: int) -> None:
        raise SyscallError(errno.EINVAL)

    def fsync(self, task: Any) -> None:
        """Nothing to flush for in-kernel files."""

    def chmod(self, task: Any, mode: int) -> None:
        raise SyscallError(errno.EPERM)

    def chown(self, task: Any, uid: int, gid: int) -> None:
        raise SyscallError(errno.EPERM)

    def utimens(self, task: Any, atime: tuple[int, int], mtime: tuple[int, int]) -> None:
        raise SyscallError(errno.EPERM)

    def proc_link(self) -> str:
        """What readlink(/proc/self/fd/N) shows."""
        return self.path


def pread_full(task: Any, file: "OpenFile", length: int, offset: int) -> bytes:
    """Up to `length` bytes at `offset`, reading on until EOF (pread may return less)."""
    chunks = []
    while length > 0:
        chunk = file.pread(task, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b"".join(chunks)
