"""In-kernel pipes: a 64 KiB buffer shared by a read end and a write end.

Blocking waits use a threading.Condition; a wait that would happen on the
QCall poller thread raises MustExit instead, so it is redone on the task's
vCPU thread where sleeping is allowed.
"""
from __future__ import annotations

import errno
import itertools
import threading
from typing import Any

from qkernel.errors import MustExit, SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.hostfile import in_poller
from qkernel.vfs.statinfo import StatInfo

PIPE_SIZE = 64 * 1024
PIPE_BUF = 4096
PIPEFS_DEV = 0x0D                    # st_dev of in-kernel pipes


class Pipe:
    def __init__(self, ino: int) -> None:
        self.ino = ino
        self.buf = bytearray()
        self.capacity = PIPE_SIZE
        self.readers = 0
        self.writers = 0
        self.cond = threading.Condition()

    def stat(self, uid: int, gid: int) -> StatInfo:
        return StatInfo(dev=PIPEFS_DEV, ino=self.ino, mode=abi.S_IFIFO | 0o600, uid=uid, gid=gid,
                        blksize=4096)


class PipeEnd(OpenFile):
    def fsync(self, task: Any) -> None:
        raise SyscallError(errno.EINVAL)      # as Linux: pipes cannot be synced

    def __init__(self, pipe: Pipe, flags: int, uid: int = 0, gid: int = 0) -> None:
        super().__init__(flags, f"pipe:[{pipe.ino}]")
        self.pipe = pipe
        self.uid, self.gid = uid, gid
        with pipe.cond:
            if self.readable:
                pipe.readers += 1
            if self.writable:
                pipe.writers += 1

    def release(self) -> None:
        p = self.pipe
        with p.cond:
            if self.readable:
                p.readers -= 1
            if self.writable:
                p.writers -= 1
            p.cond.notify_all()

    def stat(self, task: Any) -> StatInfo:
        return self.pipe.stat(self.uid, self.gid)

    def bytes_available(self) -> int:
        with self.pipe.cond:
            return len(self.pipe.buf)

    def ioctl(self, task: Any, cmd: int, arg: int) -> int:
        raise SyscallError(errno.ENOTTY)

    def read(self, task: Any, n: int) -> bytes:
        if not self.readable:
            raise SyscallError(errno.EBADF)
        p = self.pipe
        with p.cond:
            while not p.buf:
                if p.writers == 0:
                    return b""                           # EOF
                if self.flags & abi.O_NONBLOCK:
                    raise SyscallError(errno.EAGAIN)
                if in_poller(task):
                    raise MustExit()
                p.cond.wait()
            data = bytes(p.buf[:n])
            del p.buf[:n]
            p.cond.notify_all()
            return data

    def write(self, task: Any, data: bytes) -> int:
        if not self.writable:
            raise SyscallError(errno.EBADF)
        p = self.pipe
        done = 0
        with p.cond:
            while done < len(data):
                if p.readers == 0:
                    # TODO(signals): Linux also sends SIGPIPE to the writer.
                    if done:
                        return done
                    raise SyscallError(errno.EPIPE)
                free = p.capacity - len(p.buf)
                left = len(data) - done
                # Writes of at most PIPE_BUF are atomic: all or wait.
                fits = free >= left if left <= PIPE_BUF else free > 0
                if not fits:
                    if self.flags & abi.O_NONBLOCK:
                        if done:
                            return done
                        raise SyscallError(errno.EAGAIN)
                    if in_poller(task) and not done:
                        raise MustExit()
                    p.cond.wait()
                    continue
                chunk = min(free, left)
                p.buf += data[done:done + chunk]
                done += chunk
                p.cond.notify_all()
        return done


class PipeFactory:
    """Numbers pipes (their inode numbers) per kernel; no module globals."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def make(self, flags: int, uid: int = 0, gid: int = 0) -> tuple[PipeEnd, PipeEnd]:
        pipe = Pipe(next(self._ids))
        keep = flags & (abi.O_NONBLOCK | abi.O_DIRECT)
        return (PipeEnd(pipe, abi.O_RDONLY | keep, uid, gid),
                PipeEnd(pipe, abi.O_WRONLY | keep, uid, gid))
