"""epoll_create/epoll_create1, epoll_ctl, epoll_wait/epoll_pwait/epoll_pwait2.

The interest list and readiness scan are qkernel/vfs/epoll.py. Waiting is
`kernel.wait_until` on the scan; when a host fd (the sandbox's stdio) is
watched, nobody notifies its changes, so the wait is cut into 50 ms slices
as poll does. A signal ends the wait with EINTR, never restarted (as Linux,
whatever SA_RESTART says).
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any

from qkernel.errors import MustExit, SyscallError
from qkernel.signals import ERESTARTNOHAND, ERESTARTSYS
from qkernel.syscalls.fs_common import install
from qkernel.syscalls.poll import _set_mask, _with_mask
from qkernel.vfs import abi
from qkernel.vfs.epoll import (
    EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDBAND, EPOLLRDNORM,
    EPOLLWAKEUP, EPOLLWRBAND, EPOLLWRNORM, EpollFile,
)
from qkernel.vfs.file import OpenFile

EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLL_EVENT = struct.Struct("<IQ")           # packed on x86-64: 12 bytes
EP_MAX_EVENTS = 0x7FFF_FFFF // EPOLL_EVENT.size
EXCLUSIVE_OK = (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
                | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND)
HOST_SLICE_S = 0.05
NSEC = 1_000_000_000


def sys_epoll_create1(task: Any, flags: int) -> int:
    if flags & ~abi.O_CLOEXEC:
        raise SyscallError(errno.EINVAL)
    return install(task, EpollFile(0, task.kernel), bool(flags & abi.O_CLOEXEC))


def sys_epoll_create(task: Any, size: int) -> int:
    if size <= 0:
        raise SyscallError(errno.EINVAL)
    return sys_epoll_create1(task, 0)


def _epoll(task: Any, epfd: int) -> EpollFile:
    f = task.fds.get(epfd)
    if not isinstance(f, EpollFile):
        raise SyscallError(errno.EINVAL)
    return f


def _pollable(task: Any, f: OpenFile) -> bool:
    """Linux refuses regular files and directories (no poll method)."""
    if isinstance(f, EpollFile):
        return True
    try:
        mode = f.stat(task).mode & abi.S_IFMT
    except (SyscallError, NotImplementedError, OSError):
        return True
    return mode not in (abi.S_IFREG, abi.S_IFDIR)


def sys_epoll_ctl(task: Any, epfd: int, op: int, fd: int, event: int) -> int:
    events = data = 0
    if op != EPOLL_CTL_DEL:
        events, data = EPOLL_EVENT.unpack(task.mm.copy_in(event, EPOLL_EVENT.size))
    ep_file = task.fds.get(epfd)
    target = task.fds.get(fd)
    if target.flags & abi.O_PATH or not _pollable(task, target):
        raise SyscallError(errno.EPERM)
    if events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD or events & ~EXCLUSIVE_OK:
            raise SyscallError(errno.EINVAL)
    if not isinstance(ep_file, EpollFile) or target is ep_file:
        raise SyscallError(errno.EINVAL)
    if op == EPOLL_CTL_ADD:
        ep_file.add(task, fd, target, events, data)
    elif op == EPOLL_CTL_MOD:
        ep_file.modify(task, fd, target, events, data)
    elif op == EPOLL_CTL_DEL:
        ep_file.delete(fd, target)
    else:
        raise SyscallError(errno.EINVAL)
    return 0


def _involves_host(ep: EpollFile, depth: int = 0) -> bool:
    from qkernel.vfs.hostfile import HostFdFile
    for f in ep.watched_files():
        if isinstance(f, HostFdFile):
            return True
        if isinstance(f, EpollFile) and depth < 4 and _involves_host(f, depth + 1):
            return True
    return False


def _do_wait(task: Any, epfd: int, events: int, maxevents: int, timeout_ns: int | None) -> int:
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise SyscallError(errno.EINVAL)
    if not events or events + maxevents * EPOLL_EVENT.size > 1 << 47:
        raise SyscallError(errno.EFAULT)
    ep = _epoll(task, epfd)
    kernel = task.kernel
    deadline = None if timeout_ns is None else time.monotonic() + timeout_ns / NSEC
    got: list[tuple[int, int]] = ep.collect(task, maxevents)
    if not got and timeout_ns != 0:
        if kernel.in_poller():
            raise MustExit()
        host = _involves_host(ep)
        try:
            while True:
                end = deadline
                if host:
                    cap = time.monotonic() + HOST_SLICE_S
                    end = cap if deadline is None else min(deadline, cap)
                if kernel.wait_until(task, lambda: ep.any_ready(task), end):
                    got = ep.collect(task, maxevents)
                    if got:
                        break
                    continue            # an ET item seen by the check is gone: keep waiting
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except SyscallError as e:
            if e.errno in (ERESTARTSYS, ERESTARTNOHAND):
                raise SyscallError(errno.EINTR) from None
            raise
    if got:
        task.mm.copy_out(events, b"".join(EPOLL_EVENT.pack(m, d) for m, d in got))
    return len(got)


def sys_epoll_wait(task: Any, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    return _do_wait(task, epfd, events, maxevents, None if timeout < 0 else timeout * 1_000_000)


def _pwait(task: Any, epfd: int, events: int, maxevents: int, timeout_ns: int | None,
           sigmask: int, sigsetsize: int) -> int:
    if task.kernel.in_poller() and timeout_ns != 0:
        raise MustExit()                  # before the mask changes
    old = _set_mask(task, sigmask, sigsetsize)
    return _with_mask(task, old, lambda: _do_wait(task, epfd, events, maxevents, timeout_ns))


def sys_epoll_pwait(task: Any, epfd: int, events: int, maxevents: int, timeout: int,
                    sigmask: int, sigsetsize: int) -> int:
    return _pwait(task, epfd, events, maxevents, None if timeout < 0 else timeout * 1_000_000,
                  sigmask, sigsetsize)


def sys_epoll_pwait2(task: Any, epfd: int, events: int, maxevents: int, timeout: int,
                     sigmask: int, sigsetsize: int) -> int:
    timeout_ns = None
    if timeout:
        sec, nsec = struct.unpack("<qq", task.mm.copy_in(timeout, 16))
        if sec < 0 or not 0 <= nsec < NSEC:
            raise SyscallError(errno.EINVAL)
        timeout_ns = sec * NSEC + nsec
    return _pwait(task, epfd, events, maxevents, timeout_ns, sigmask, sigsetsize)
