"""AF_UNIX sockets, entirely in the kernel: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET.

A socket is its own open file description (UnixSocket). Connected stream
and seqpacket sockets point at each other (`peer`); a datagram socket's
`peer` is just its default destination. Data goes straight into the
receiver's queue (`rq`) as Msgs carrying the bytes, the open files passed
with SCM_RIGHTS (held by a reference while in flight), the sender's name
and credentials.

Names: a bound path lives in a per-kernel table (`kernel.unix_names`) keyed
by the guest's absolute path (directories resolved, the last component
not); nothing is created in the file system, so stat/unlink of the path do
not see it, and the name is freed when the socket is closed (Linux keeps
the socket inode until it is unlinked). Abstract names (sun_path[0] == 0)
are keyed by their bytes.

Limits: a stream receiver queues at most `rcvbuf` bytes; a datagram
receiver at most MAX_DGRAM_QLEN messages or `rcvbuf` bytes. All state is
guarded by the kernel lock; every change calls `changed()` (kernel.notify
and the epoll edge counter).
"""
from __future__ import annotations

import errno
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qkernel.errors import MustExit, SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import OpenFile
from qkernel.vfs.statinfo import StatInfo

AF_UNIX = 1
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCKFS_DEV = 0x08
DEFAULT_BUF = 212992                 # net.core.wmem_default / rmem_default
MAX_DGRAM_QLEN = 512                 # net.unix.max_dgram_qlen
SOMAXCONN = 4096
SCM_MAX_FD = 253
SIGPIPE = 13

MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_CTRUNC = 0x8
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_NOSIGNAL = 0x4000
MSG_CMSG_CLOEXEC = 0x40000000

RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2
SHUTDOWN_MASK = 3

POLLIN, POLLOUT, POLLERR, POLLHUP = 0x1, 0x4, 0x8, 0x10
POLLRDNORM, POLLWRNORM, POLLWRBAND, POLLRDHUP = 0x40, 0x100, 0x200, 0x2000

UNCONNECTED, LISTENING, CONNECTED = "unconnected", "listening", "connected"
_ino = itertools.count(1)


@dataclass(eq=False)
class Msg:
    data: bytes
    fds: list[OpenFile] = field(default_factory=list)
    sender: bytes | None = None            # the sender's sockaddr (None: unnamed)
    creds: tuple[int, int, int] = (0, 0, 0)   # pid, uid, gid


def creds_of(task: Any) -> tuple[int, int, int]:
    return (task.pid, task.creds.euid, task.creds.egid)


def names(kernel: Any) -> dict[Any, "UnixSocket"]:
    table = getattr(kernel, "unix_names", None)
    if table is None:
        table = kernel.unix_names = {}
    return table


def drop_fds(fds: list[OpenFile]) -> None:
    for f in fds:
        f.decref()


class UnixSocket(OpenFile):
    def __init__(self, kernel: Any, stype: int, flags: int) -> None:
        super().__init__(abi.O_RDWR | (flags & abi.O_NONBLOCK))
        self.kernel = kernel
        self.stype = stype
        self.ino = next(_ino)
        self.path = f"socket:[{self.ino}]"
        self.state = UNCONNECTED
        self.peer: UnixSocket | None = None
        self.name: bytes | None = None        # sockaddr bytes after the family
        self.name_key: Any = None
        self.rq: deque[Msg] = deque()
        self.rq_bytes = 0
        self.backlog: deque[UnixSocket] = deque()
        self.backlog_max = 0
        self.shutdown_bits = 0                # RCV_SHUTDOWN | SEND_SHUTDOWN, ours
        self.err = 0
        self.released = False
        self.peercred: tuple[int, int, int] | None = None
        self.listen_creds: tuple[int, int, int] | None = None
        self.passcred = False
        self.sndbuf = DEFAULT_BUF
        self.rcvbuf = DEFAULT_BUF
        self.rcvtimeo = 0.0                   # seconds; 0 = forever
        self.sndtimeo = 0.0
        self.opts: dict[tuple[int, int], bytes] = {}   # other options, recorded
        self.event_seq = 0
        self.uid = 0
        self.gid = 0

    # -- bookkeeping ------------------------------------------------------------
    @property
    def connection(self) -> bool:
        return self.stype in (SOCK_STREAM, SOCK_SEQPACKET)

    def changed(self) -> None:
        self.event_seq += 1
        self.kernel.notify()

    def _notify_all(self, *others: "UnixSocket | None") -> None:
        for s in others:
            if s is not None:
                s.event_seq += 1
        self.changed()

    def stat(self, task: Any) -> StatInfo:
        return StatInfo(dev=SOCKFS_DEV, ino=self.ino, mode=abi.S_IFSOCK | 0o777,
                        uid=self.uid, gid=self.gid, blksize=4096)

    def proc_link(self) -> str:
        return self.path

    def release(self) -> None:
        if self.kernel.lock.acquire(blocking=False):
            try:
                self._release()
            finally:
                self.kernel.lock.release()
        else:
            self._release()                   # from a syscall: the lock is already ours

    def _release(self) -> None:
        if self.released:
            return
        self.released = True
        table = names(self.kernel)
        if self.name_key is not None and table.get(self.name_key) is self:
            del table[self.name_key]
        while self.backlog:                   # connections never accepted
            self.backlog.popleft()._release()
        peer = self.peer
        if peer is not None and self.connection:
            peer.shutdown_bits = SHUTDOWN_MASK
            if self.rq:
                peer.err = errno.ECONNRESET
            peer.event_seq += 1
        while self.rq:
            drop_fds(self.rq.popleft().fds)
        self.rq_bytes = 0
        self.peer = None
        self.state = UNCONNECTED
        self.kernel.notify()

    # -- names ------------------------------------------------------------------
    def sockaddr(self) -> bytes:
        """Our address as getsockname returns it (family only when unnamed)."""
        return AF_UNIX.to_bytes(2, "little") + (self.name or b"")

    def bind(self, key: Any, name: bytes) -> None:
        if self.name is not None:
            raise SyscallError(errno.EINVAL)
        table = names(self.kernel)
        if key in table:
            raise SyscallError(errno.EADDRINUSE)
        table[key] = self
        self.name, self.name_key = name, key

    def autobind(self) -> None:
        table = names(self.kernel)
        for n in itertools.count(1):
            name = b"\0" + f"{n:05x}".encode()
            key = ("abstract", name)
            if key not in table:
                self.bind(key, name)
                return

    # -- connections ------------------------------------------------------------
    def listen(self, task: Any, backlog: int) -> None:
        if not self.connection:
            raise SyscallError(errno.EOPNOTSUPP)
        if self.state == CONNECTED or self.name is None:
            raise SyscallError(errno.EINVAL)
        if backlog < 0 or backlog > SOMAXCONN:
            backlog = SOMAXCONN
        self.backlog_max = backlog
        self.state = LISTENING
        self.listen_creds = creds_of(task)
        self.changed()

    def connect(self, task: Any, target: "UnixSocket") -> None:
        if target.stype != self.stype:
            raise SyscallError(errno.EPROTOTYPE)
        if not self.connection:
            self.peer = target                 # a datagram socket's default destination
            self.changed()
            return
        if self.state == CONNECTED:
            raise SyscallError(errno.EISCONN)
        if self.state == LISTENING:
            raise SyscallError(errno.EINVAL)

        def room() -> bool:
            return target.released or target.state != LISTENING or \
                len(target.backlog) <= target.backlog_max
        if target.state != LISTENING:
            raise SyscallError(errno.ECONNREFUSED)
        if not room():
            if self.flags & abi.O_NONBLOCK:
                raise SyscallError(errno.EAGAIN)
            self._wait(task, room, self.sndtimeo)
            if target.released or target.state != LISTENING:
                raise SyscallError(errno.ECONNREFUSED)
        server = UnixSocket(self.kernel, self.stype, 0)
        server.uid, server.gid = target.uid, target.gid
        server.name, server.passcred = target.name, target.passcred
        server.state = self.state = CONNECTED
        server.peer, self.peer = self, server
        server.peercred = creds_of(task)
        self.peercred = target.listen_creds
        target.backlog.append(server)
        target._notify_all(self)

    def accept(self, task: Any) -> "UnixSocket":
        if self.state != LISTENING:
            raise SyscallError(errno.EINVAL)
        if not self.backlog:
            if self.flags & abi.O_NONBLOCK:
                raise SyscallError(errno.EAGAIN)
            self._wait(task, lambda: bool(self.backlog) or self.state != LISTENING, self.rcvtimeo)
            if not self.backlog:
                raise SyscallError(errno.EINVAL)
        server = self.backlog.popleft()
        self.changed()
        return server

    def shutdown(self, how: int) -> None:
        if how not in (0, 1, 2):
            raise SyscallError(errno.EINVAL)
        if self.state != CONNECTED and not (self.peer is not None and not self.connection):
            raise SyscallError(errno.ENOTCONN)
        bits = {0: RCV_SHUTDOWN, 1: SEND_SHUTDOWN, 2: SHUTDOWN_MASK}[how]
        self.shutdown_bits |= bits
        peer = self.peer
        if peer is not None and self.connection:
            # Our send side is the peer's receive side and the other way round.
            if bits & SEND_SHUTDOWN:
                peer.shutdown_bits |= RCV_SHUTDOWN
            if bits & RCV_SHUTDOWN:
                peer.shutdown_bits |= SEND_SHUTDOWN
        self._notify_all(peer)

    # -- waiting ----------------------------------------------------------------
    def _wait(self, task: Any, ready: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout if timeout else None
        if not task.kernel.wait_until(task, ready, deadline):
            raise SyscallError(errno.EAGAIN)

    # -- sending ----------------------------------------------------------------
    def _epipe(self, task: Any, flags: int) -> SyscallError:
        if not flags & MSG_NOSIGNAL:
            from qkernel.signals import send_signal
            send_signal(task.kernel, task, SIGPIPE)
        return SyscallError(errno.EPIPE)

    def send(self, task: Any, data: bytes, fds: list[OpenFile], flags: int,
             dest: "UnixSocket | None" = None) -> int:
        """Queue data (and the files, already referenced by the caller: on
        failure they are dropped here). Returns the bytes sent."""
        try:
            if flags & MSG_OOB:
                raise SyscallError(errno.EOPNOTSUPP)
            if len(fds) > SCM_MAX_FD:
                raise SyscallError(errno.EINVAL)
            if self.connection:
                return self._send_stream(task, data, fds, flags, dest)
            return self._send_dgram(task, data, fds, flags, dest)
        except BaseException:
            drop_fds(fds)
            raise

    def _nonblock(self, flags: int) -> bool:
        return bool(flags & MSG_DONTWAIT or self.flags & abi.O_NONBLOCK)

    def _send_stream(self, task: Any, data: bytes, fds: list[OpenFile], flags: int,
                     dest: "UnixSocket | None") -> int:
        if dest is not None:
            raise SyscallError(errno.EISCONN if self.state == CONNECTED else errno.EOPNOTSUPP)
        if self.shutdown_bits & SEND_SHUTDOWN and self.state == CONNECTED:
            raise self._epipe(task, flags)
        peer = self.peer
        if self.state != CONNECTED or peer is None:
            raise SyscallError(errno.ENOTCONN)
        if peer.released or peer.shutdown_bits & RCV_SHUTDOWN:
            raise self._epipe(task, flags)
        nonblock = self._nonblock(flags)
        seq = self.stype == SOCK_SEQPACKET
        if seq and len(data) > self.sndbuf:
            raise SyscallError(errno.EMSGSIZE)
        if not nonblock and task.kernel.in_poller() and peer.rcvbuf - peer.rq_bytes < len(data):
            raise MustExit()                   # may block: redo on the task's thread first
        sender = self.name and AF_UNIX.to_bytes(2, "little") + self.name
        done = 0
        first = True
        while first or done < len(data):
            peer = self.peer
            if peer is None or peer.released or peer.shutdown_bits & RCV_SHUTDOWN \
                    or self.shutdown_bits & SEND_SHUTDOWN:
                if done:
                    return done
                raise self._epipe(task, flags)
            room = peer.rcvbuf - peer.rq_bytes
            need = len(data) - done if seq else 1
            if room >= need or (room > 0 and not seq):
                chunk = data[done:] if seq else data[done:done + max(1, room)]
                peer.rq.append(Msg(chunk, fds if first else [], sender, creds_of(task)))
                peer.rq_bytes += len(chunk)
                done += len(chunk)
                first = False
                self._notify_all(peer)
                continue
            if nonblock:
                if done:
                    return done
                raise SyscallError(errno.EAGAIN)
            try:
                self._wait(task, lambda: self.peer is None or self.peer.released or
                           self.peer.rcvbuf - self.peer.rq_bytes >= need or
                           bool(self.peer.shutdown_bits & RCV_SHUTDOWN), self.sndtimeo)
            except SyscallError:
                if done:
                    return done
                raise
        return done

    def _send_dgram(self, task: Any, data: bytes, fds: list[OpenFile], flags: int,
                    dest: "UnixSocket | None") -> int:
        if self.shutdown_bits & SEND_SHUTDOWN:
            raise self._epipe(task, flags)
        target = dest or self.peer
        if target is None:
            raise SyscallError(errno.ENOTCONN)
        if len(data) > self.sndbuf:
            raise SyscallError(errno.EMSGSIZE)
        if target.released:
            raise SyscallError(errno.ECONNREFUSED)
        if target.peer is not None and target.peer is not self and dest is not None \
                and not target.peer.released:
            raise SyscallError(errno.EPERM)    # it is connected to someone else

        def room() -> bool:
            return target.released or (len(target.rq) < MAX_DGRAM_QLEN and
                                       target.rq_bytes + len(data) <= target.rcvbuf)
        if not room():
            if self._nonblock(flags):
                raise SyscallError(errno.EAGAIN)
            self._wait(task, room, self.sndtimeo)
            if target.released:
                raise SyscallError(errno.ECONNREFUSED)
        sender = self.name and AF_UNIX.to_bytes(2, "little") + self.name
        target.rq.append(Msg(bytes(data), fds, sender, creds_of(task)))
        target.rq_bytes += len(data)
        self._notify_all(target)
        return len(data)

    # -- receiving ----------------------------------------------------------------
    def recv(self, task: Any, n: int, flags: int) -> tuple[bytes, list[OpenFile], Msg | None, int, int]:
        """(data, files, first message, out flags, length for the return
        value). The files are the caller's to install (one reference each)."""
        if flags & MSG_OOB:
            raise SyscallError(errno.EOPNOTSUPP)
        if self.connection and self.state != CONNECTED:
            raise SyscallError(errno.EINVAL)
        nonblock = self._nonblock(flags)
        if (flags & MSG_WAITALL and not flags & (MSG_PEEK | MSG_DONTWAIT) and not nonblock
                and self.stype == SOCK_STREAM and task.kernel.in_poller() and self.rq_bytes < n):
            # May have to wait after taking part of the data: the poller
            # would hand the call over and the part taken would be lost.
            raise MustExit()

        def ready() -> bool:
            return bool(self.rq) or bool(self.shutdown_bits & RCV_SHUTDOWN) or bool(self.err) \
                or (self.connection and (self.peer is None or self.peer.released))
        if not ready():
            if nonblock:
                raise SyscallError(errno.EAGAIN)
            self._wait(task, ready, self.rcvtimeo)
        if not self.rq:
            if self.err:
                err, self.err = self.err, 0
                raise SyscallError(err)
            return b"", [], None, 0, 0         # EOF
        if self.stype == SOCK_STREAM:
            return self._recv_stream(task, n, flags)
        msg = self.rq[0]
        out_flags = 0
        data = msg.data[:n]
        if len(msg.data) > n:
            out_flags |= MSG_TRUNC
        fds = list(msg.fds)
        if flags & MSG_PEEK:
            for f in fds:
                f.incref()
        else:
            self.rq.popleft()
            self.rq_bytes -= len(msg.data)
            msg.fds = []
            self._notify_all(self.peer)
        length = len(msg.data) if flags & MSG_TRUNC else len(data)
        return data, fds, msg, out_flags, length

    def _recv_stream(self, task: Any, n: int, flags: int) -> tuple[bytes, list[OpenFile], Msg | None, int, int]:
        out = bytearray()
        fds: list[OpenFile] = []
        first: Msg | None = None
        while True:
            i = 0
            while len(out) < n and i < len(self.rq):
                msg = self.rq[i]
                if first is not None and msg.fds:
                    break                      # files ride with their own read
                if first is None:
                    first = msg
                    fds = list(msg.fds)
                    if flags & MSG_PEEK:
                        for f in fds:
                            f.incref()
                    else:
                        msg.fds = []
                take = msg.data[:n - len(out)]
                out += take
                if flags & MSG_PEEK:
                    i += 1
                    continue
                if len(take) == len(msg.data):
                    self.rq.popleft()
                else:
                    msg.data = msg.data[len(take):]
                self.rq_bytes -= len(take)
            if not flags & MSG_PEEK and out:
                self._notify_all(self.peer)
            if not flags & MSG_WAITALL or flags & MSG_PEEK or len(out) >= n or self._nonblock(flags):
                break
            if self.rq and self.rq[0].fds:
                break
            peer = self.peer
            if self.shutdown_bits & RCV_SHUTDOWN or peer is None or peer.released or self.err:
                break
            try:
                self._wait(task, lambda: bool(self.rq) or bool(self.shutdown_bits & RCV_SHUTDOWN)
                           or self.peer is None or self.peer.released or bool(self.err), self.rcvtimeo)
            except SyscallError:
                if out:
                    break
                raise
        return bytes(out), fds, first, 0, len(out)

    # -- the file interface (read/write) ---------------------------------------
    def read(self, task: Any, n: int) -> bytes:
        data, fds, _, _, _ = self.recv(task, n, 0)
        drop_fds(fds)                          # read(2) cannot take files: they are closed
        return data

    def write(self, task: Any, data: bytes) -> int:
        return self.send(task, data, [], 0)

    def bytes_available(self) -> int:
        if self.stype == SOCK_STREAM:
            return self.rq_bytes
        return len(self.rq[0].data) if self.rq else 0

    def poll_events(self, task: Any) -> int:
        mask = 0
        if self.err:
            mask |= POLLERR
        if self.state == LISTENING:
            return mask | (POLLIN | POLLRDNORM if self.backlog else 0)
        if self.shutdown_bits == SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.shutdown_bits & RCV_SHUTDOWN:
            mask |= POLLRDHUP | POLLIN | POLLRDNORM
        if self.rq:
            mask |= POLLIN | POLLRDNORM
        if self.connection and self.state != CONNECTED:
            mask |= POLLHUP
        if self._writable():
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND
        return mask

    def _writable(self) -> bool:
        peer = self.peer
        if self.connection:
            if self.state != CONNECTED:
                return True                    # as Linux: an unconnected socket polls writable
            if peer is None or peer.released or peer.shutdown_bits & RCV_SHUTDOWN:
                return True                    # the write fails at once (EPIPE)
            return peer.rq_bytes < peer.rcvbuf
        if peer is None or peer.released:
            return True
        return len(peer.rq) < MAX_DGRAM_QLEN and peer.rq_bytes < peer.rcvbuf


def socketpair(kernel: Any, task: Any, stype: int, flags: int) -> tuple[UnixSocket, UnixSocket]:
    a, b = UnixSocket(kernel, stype, flags), UnixSocket(kernel, stype, flags)
    a.peer, b.peer = b, a
    if a.connection:
        a.state = b.state = CONNECTED
    a.peercred = b.peercred = creds_of(task)
    a.uid = b.uid = task.creds.euid
    a.gid = b.gid = task.creds.egid
    return a, b
