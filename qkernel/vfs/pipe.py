"""In-kernel pipes: a 64 KiB buffer shared by a read end and a write end.

Pipe state is kernel state, guarded by `kernel.lock` like everything else
(every syscall holds it). A reader or writer that must wait sleeps in
`kernel.wait_until`, which releases the lock, lets a signal interrupt the
wait and, on the QCall poller thread, raises MustExit so the call is redone
on the task's own thread: so nothing may change before the first wait.
Whoever changes what a waiter waits for (data, room, the last reader or
writer going away) calls `kernel.notify()`.

Reader and writer counts are per open file description: dup and fork share
one description (OpenFile refs), and `release` runs when its last fd closes.
"""
from __future__ import annotations

import errno
import itertools
from typing import Any

from qkernel.errors import MustExit, SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.statinfo import StatInfo

PIPE_SIZE = 64 * 1024
PIPE_BUF = 4096
PIPE_MAX_SIZE = 1 << 20              # /proc/sys/fs/pipe-max-size default
PIPEFS_DEV = 0x0D                    # st_dev of in-kernel pipes
SIGPIPE = 13

POLLIN, POLLOUT, POLLERR, POLLHUP = 0x1, 0x4, 0x8, 0x10
POLLRDNORM, POLLWRNORM = 0x40, 0x100


class Pipe:
    def __init__(self, ino: int) -> None:
        self.ino = ino
        self.buf = bytearray()
        self.capacity = PIPE_SIZE
        self.readers = 0
        self.writers = 0
        # The kernel whose lock guards us, learnt from the first task that
        # touches the pipe: only tasks can wait on it, so until one has,
        # there is nobody to notify.
        self.kernel: Any = None

    def stat(self, uid: int, gid: int) -> StatInfo:
        return StatInfo(dev=PIPEFS_DEV, ino=self.ino, mode=abi.S_IFIFO | 0o600, uid=uid, gid=gid,
                        blksize=4096)

    @property
    def free(self) -> int:
        return max(0, self.capacity - len(self.buf))

    def notify(self) -> None:
        kernel = self.kernel
        if kernel is None:
            return
        # Normally called inside a syscall (lock held). A release from
        # outside one (teardown) takes the lock for the notify.
        if kernel.lock.acquire(blocking=False):
            try:
                kernel.notify()
            finally:
                kernel.lock.release()
        else:
            kernel.notify()


class PipeEnd(OpenFile):
    def __init__(self, pipe: Pipe, flags: int, uid: int = 0, gid: int = 0) -> None:
        super().__init__(flags, f"pipe:[{pipe.ino}]")
        self.pipe = pipe
        self.uid, self.gid = uid, gid
        if self.readable:
            pipe.readers += 1
        if self.writable:
            pipe.writers += 1

    def release(self) -> None:
        p = self.pipe
        if self.readable:
            p.readers -= 1
        if self.writable:
            p.writers -= 1
        p.notify()                    # blocked peers see EOF / EPIPE

    def fsync(self, task: Any) -> None:
        raise SyscallError(errno.EINVAL)      # as Linux: pipes cannot be synced

    def stat(self, task: Any) -> StatInfo:
        return self.pipe.stat(self.uid, self.gid)

    def bytes_available(self) -> int:
        return len(self.pipe.buf)

    def ioctl(self, task: Any, cmd: int, arg: int) -> int:
        raise SyscallError(errno.ENOTTY)

    # -- F_GETPIPE_SZ / F_SETPIPE_SZ ------------------------------------------
    def pipe_size(self) -> int:
        return self.pipe.capacity

    def set_pipe_size(self, task: Any, size: int) -> int:
        """F_SETPIPE_SZ: round up to a power-of-two number of pages (at least
        one); EBUSY when the data already queued would not fit, EPERM past
        pipe-max-size for an unprivileged task (as Linux's pipe_set_size)."""
        size &= 0xFFFF_FFFF_FFFF_FFFF
        if size > 1 << 31:
            raise SyscallError(errno.EINVAL)
        new = 4096
        while new < size:
            new *= 2
        if new > self.pipe.capacity and new > PIPE_MAX_SIZE and task.creds.euid != 0:
            raise SyscallError(errno.EPERM)
        if new < len(self.pipe.buf):
            raise SyscallError(errno.EBUSY)
        self.pipe.capacity = new
        self._bind(task)
        self.pipe.notify()            # a larger pipe may unblock writers
        return new

    # -- readiness -------------------------------------------------------------
    def poll_events(self, task: Any) -> int:
        p = self.pipe
        self._bind(task)
        mask = 0
        if self.readable:
            if p.buf:
                mask |= POLLIN | POLLRDNORM
            if p.writers == 0:
                mask |= POLLHUP
        if self.writable:
            # Linux reports writable while a page slot is free.
            if p.free >= PIPE_BUF:
                mask |= POLLOUT | POLLWRNORM
            if p.readers == 0:
                mask |= POLLERR
        return mask

    # -- data ------------------------------------------------------------------
    def _bind(self, task: Any) -> None:
        if self.pipe.kernel is None:
            self.pipe.kernel = task.kernel

    def read(self, task: Any, n: int) -> bytes:
        if not self.readable:
            raise SyscallError(errno.EBADF)
        p = self.pipe
        self._bind(task)
        if n <= 0:
            return b""
        if not p.buf and p.writers:
            if self.flags & abi.O_NONBLOCK:
                raise SyscallError(errno.EAGAIN)
            # Interrupted: ERESTARTSYS propagates (restart or EINTR by SA_RESTART).
            task.kernel.wait_until(task, lambda: bool(p.buf) or p.writers == 0)
        if not p.buf:
            return b""                               # EOF: no writer left
        data = bytes(p.buf[:n])
        del p.buf[:n]
        p.notify()                                   # room for blocked writers
        return data

    def write(self, task: Any, data: bytes) -> int:
        if not self.writable:
            raise SyscallError(errno.EBADF)
        p = self.pipe
        kernel = task.kernel
        self._bind(task)
        if not data:
            return 0
        nonblock = bool(self.flags & abi.O_NONBLOCK)
        # On the poller a write that cannot finish now must be redone on the
        # task's thread before any byte is queued (a partial write there
        # could not be resumed).
        if p.readers and not nonblock and p.free < len(data) and kernel.in_poller():
            raise MustExit()
        done = 0
        while done < len(data):
            if p.readers == 0:
                if done:
                    return done
                self._sigpipe(task)
                raise SyscallError(errno.EPIPE)
            left = len(data) - done
            # Writes of at most PIPE_BUF are atomic: all at once or wait.
            fits = p.free >= left if len(data) <= PIPE_BUF else p.free > 0
            if fits:
                chunk = min(p.free, left)
                p.buf += data[done:done + chunk]
                done += chunk
                p.notify()                           # data for blocked readers
                continue
            if nonblock:
                if done:
                    return done
                raise SyscallError(errno.EAGAIN)
            need = left if len(data) <= PIPE_BUF else 1
            try:
                kernel.wait_until(task, lambda: p.readers == 0 or p.free >= need)
            except SyscallError:
                if done:
                    return done      # a signal after some bytes: report those, as Linux
                raise
        return done

    @staticmethod
    def _sigpipe(task: Any) -> None:
        from qkernel.signals import send_signal
        send_signal(task.kernel, task, SIGPIPE)


class PipeFactory:
    """Numbers pipes (their inode numbers) per kernel; no module globals."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def make(self, flags: int, uid: int = 0, gid: int = 0) -> tuple[PipeEnd, PipeEnd]:
        pipe = Pipe(next(self._ids))
        keep = flags & (abi.O_NONBLOCK | abi.O_DIRECT)
        return (PipeEnd(pipe, abi.O_RDONLY | keep, uid, gid),
                PipeEnd(pipe, abi.O_WRONLY | keep, uid, gid))
