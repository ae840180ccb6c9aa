"""eventfd: a 64-bit counter behind a file descriptor (eventfd(2)).

write adds the 8-byte value (blocking while the sum would pass
0xfffffffffffffffe); read returns the counter and zeroes it, or, with
EFD_SEMAPHORE, returns 1 and decrements it; a zero counter blocks the
reader. State is guarded by the kernel lock; changes call kernel.notify().

Also here: AnonFile, the base of the anon-inode files (eventfd, timerfd,
epoll): no path, fstat shows an anon inode, /proc/self/fd shows
"anon_inode:[kind]".
"""
from __future__ import annotations

import errno
import itertools
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.statinfo import StatInfo

ANON_DEV = 0x0E
U64 = struct.Struct("<Q")
EFD_SEMAPHORE = 1
EFD_MAX = 0xFFFF_FFFF_FFFF_FFFE
POLLIN, POLLOUT, POLLERR = 0x1, 0x4, 0x8
POLLRDNORM, POLLWRNORM = 0x40, 0x100
_anon_ino = itertools.count(1)


class AnonFile(OpenFile):
    kind = "anon"

    def __init__(self, flags: int, kernel: Any = None) -> None:
        super().__init__(flags | abi.O_RDWR, f"anon_inode:[{self.kind}]")
        self.kernel = kernel
        self.ino = next(_anon_ino)
        # Bumped on every change of readiness-relevant state; epoll's
        # edge-triggered mode reports a new event when it moves.
        self.event_seq = 0

    def stat(self, task: Any) -> StatInfo:
        return StatInfo(dev=ANON_DEV, ino=self.ino, mode=0o600, uid=task.creds.euid,
                        gid=task.creds.egid, blksize=4096)

    def changed(self) -> None:
        """Readiness may have changed: wake waiters (lock held)."""
        self.event_seq += 1
        if self.kernel is not None:
            self.kernel.notify()

    def _wait(self, task: Any, ready: Any) -> None:
        """Block until ready() unless the file is non-blocking (EAGAIN)."""
        if ready():
            return
        if self.flags & abi.O_NONBLOCK:
            raise SyscallError(errno.EAGAIN)
        task.kernel.wait_until(task, ready)


class EventFd(AnonFile):
    kind = "eventfd"

    def __init__(self, count: int, flags: int, kernel: Any = None) -> None:
        super().__init__(flags & abi.O_NONBLOCK, kernel)
        self.count = count
        self.semaphore = bool(flags & EFD_SEMAPHORE)

    def read(self, task: Any, n: int) -> bytes:
        if n < 8:
            raise SyscallError(errno.EINVAL)
        self._wait(task, lambda: self.count > 0)
        if self.semaphore:
            value = 1
            self.count -= 1
        else:
            value, self.count = self.count, 0
        self.changed()                       # room for blocked writers
        return U64.pack(value)

    def write(self, task: Any, data: bytes) -> int:
        if len(data) < 8:
            raise SyscallError(errno.EINVAL)
        value = U64.unpack_from(data)[0]
        if value == 0xFFFF_FFFF_FFFF_FFFF:
            raise SyscallError(errno.EINVAL)
        self._wait(task, lambda: EFD_MAX - self.count >= value)
        if value:
            self.count += value
            self.changed()
        return 8

    def poll_events(self, task: Any) -> int:
        mask = 0
        if self.count > 0:
            mask |= POLLIN | POLLRDNORM
        if self.count < EFD_MAX:
            mask |= POLLOUT | POLLWRNORM
        return mask

    def bytes_available(self) -> int:
        raise SyscallError(errno.EINVAL)

    def proc_fdinfo(self) -> str:
        return f"eventfd-count: {self.count:16x}\n"
