"""poll, ppoll, select, pselect6 (epoll is elsewhere / not yet).

Readiness comes from each open file's `poll_events(task)`. Waiting is
`kernel.wait_until(task, any_ready, deadline)`: in-kernel files (pipes)
call `kernel.notify()` when they change; host fds (the sandbox's stdio)
have nobody to do that, so when one is involved the wait is cut into
50 ms slices and readiness is looked at again after each.

Interruptions: a signal ends the wait with ERESTARTNOHAND (a handler sees
EINTR; a handler-less stop/continue restarts the call). select, pselect6
and ppoll write back the time left first, as Linux, so a restart waits only
the rest; poll's millisecond timeout cannot carry that, so a restarted poll
waits its whole timeout again (Linux keeps it in a restart block).

ppoll/pselect6's mask applies for the wait only: on EINTR the old mask goes
to `task.saved_sigmask`, for the signal code to put back after the handler
frame is set up; otherwise it is restored here.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any, Callable

from qkernel.errors import MustExit, SyscallError
from qkernel.signals import ERESTARTNOHAND, ERESTARTSYS
from qkernel.vfs import abi

POLLIN = 0x001
POLLPRI = 0x002
POLLOUT = 0x004
POLLERR = 0x008
POLLHUP = 0x010
POLLNVAL = 0x020
POLLRDNORM = 0x040
POLLRDBAND = 0x080
POLLWRNORM = 0x100
POLLWRBAND = 0x200
# What select counts as readable / writable / exceptional (fs/select.c).
SELECT_IN = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
SELECT_OUT = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
SELECT_EX = POLLPRI

NSEC = 1_000_000_000
RLIMIT_NOFILE = 7
HOST_SLICE_S = 0.05
FD_SETSIZE_MAX = 1 << 20               # NR_OPEN: select's n is cut to this
POLLFD = struct.Struct("<ihh")          # struct pollfd
TIMESPEC = struct.Struct("<qq")
SIGSET_SIZE = 8
UNBLOCKABLE = (1 << (9 - 1)) | (1 << (19 - 1))   # SIGKILL, SIGSTOP


# ---------------------------------------------------------------- readiness

def _file_events(task: Any, fd: int) -> int:
    """poll_events of fd, or POLLNVAL when fd names no (pollable) file."""
    f = task.fds.lookup(fd)
    if f is None or f.flags & abi.O_PATH:
        return POLLNVAL
    return f.poll_events(task)


def _involves_host(task: Any, fds: list[int]) -> bool:
    from qkernel.vfs.hostfile import HostFdFile
    return any(isinstance(task.fds.lookup(fd), HostFdFile) for fd in fds)


def _wait_for(task: Any, scan: Callable[[], int], fds: list[int], deadline: float | None) -> int:
    """Scan until it finds something ready (returns its count) or the
    deadline passes (returns 0). A zero deadline never waits."""
    kernel = task.kernel
    found = [scan()]
    if found[0] or (deadline is not None and deadline <= time.monotonic()):
        return found[0]
    if kernel.in_poller():
        raise MustExit()                  # nothing changed yet: redo on the task's thread
    host = _involves_host(task, fds)

    def ready() -> bool:
        found[0] = scan()
        return bool(found[0])

    while True:
        end = deadline
        if host:
            cap = time.monotonic() + HOST_SLICE_S
            end = cap if deadline is None else min(deadline, cap)
        if kernel.wait_until(task, ready, end):
            return found[0]
        if deadline is not None and time.monotonic() >= deadline:
            return 0


def _deadline_from_ns(ns: int | None) -> float | None:
    return None if ns is None else time.monotonic() + ns / NSEC


def _left_ns(deadline: float | None) -> int:
    return 0 if deadline is None else max(0, int((deadline - time.monotonic()) * NSEC))


# ---------------------------------------------------------------- sigmask

def _set_mask(task: Any, sigmask: int, sigsetsize: int) -> int | None:
    """Install ppoll/pselect6's temporary mask; the old one (None if no mask)."""
    if not sigmask:
        return None
    if sigsetsize != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    new = struct.unpack("<Q", task.mm.copy_in(sigmask, SIGSET_SIZE))[0]
    old = task.sigmask
    task.sigmask = new & ~UNBLOCKABLE
    return old


def _with_mask(task: Any, old: int | None, body: Callable[[], int]) -> int:
    """Run body under the temporary mask; keep it for the handler on EINTR."""
    try:
        result = body()
    except SyscallError as e:
        if old is not None:
            if e.errno in (ERESTARTNOHAND, ERESTARTSYS, errno.EINTR):
                task.saved_sigmask = old
            else:
                task.sigmask = old
        raise
    except BaseException:
        if old is not None:
            task.sigmask = old
        raise
    if old is not None:
        task.sigmask = old
    return result


# ---------------------------------------------------------------- poll

def _do_poll(task: Any, ufds: int, nfds: int, timeout_ns: int | None,
             on_interrupt: Callable[[float | None], None]) -> int:
    if nfds > min(task.limits.get(RLIMIT_NOFILE)[0], FD_SETSIZE_MAX):
        raise SyscallError(errno.EINVAL)
    raw = task.mm.copy_in(ufds, nfds * POLLFD.size) if nfds else b""
    entries = [POLLFD.unpack_from(raw, i * POLLFD.size) for i in range(nfds)]
    revents = [0] * nfds

    def scan() -> int:
        count = 0
        for i, (fd, events, _) in enumerate(entries):
            if fd < 0:
                revents[i] = 0
                continue
            mask = _file_events(task, fd)
            # Errors and hang-ups are reported whether asked for or not.
            mask &= (events & 0xFFFF) | POLLERR | POLLHUP | POLLNVAL
            revents[i] = mask
            count += bool(mask)
        return count

    deadline = _deadline_from_ns(timeout_ns)
    try:
        n = _wait_for(task, scan, [e[0] for e in entries if e[0] >= 0], deadline)
    except SyscallError as e:
        if e.errno == ERESTARTSYS:
            on_interrupt(deadline)
            raise SyscallError(ERESTARTNOHAND) from None
        raise
    out = bytearray(raw)
    for i, (fd, events, _) in enumerate(entries):
        struct.pack_into("<h", out, i * POLLFD.size + 6, _s16(revents[i]))
    if nfds:
        task.mm.copy_out(ufds, bytes(out))
    return n


def _s16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def sys_poll(task: Any, ufds: int, nfds: int, timeout_msecs: int) -> int:
    timeout = None if timeout_msecs < 0 else timeout_msecs * 1_000_000
    return _do_poll(task, ufds, nfds, timeout, lambda _d: None)


def _read_timespec(task: Any, addr: int) -> int:
    sec, nsec = TIMESPEC.unpack(task.mm.copy_in(addr, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise SyscallError(errno.EINVAL)
    return sec * NSEC + nsec


def _write_left(task: Any, addr: int, deadline: float | None, usec: bool) -> None:
    """Write the time left back (select/pselect6/ppoll do, as Linux)."""
    if not addr or deadline is None:
        return
    left = _left_ns(deadline)
    sec, nsec = divmod(left, NSEC)
    try:
        task.mm.copy_out(addr, TIMESPEC.pack(sec, nsec // 1000 if usec else nsec))
    except SyscallError:
        pass                             # Linux ignores a failed write-back too


def sys_ppoll(task: Any, ufds: int, nfds: int, tsp: int, sigmask: int, sigsetsize: int) -> int:
    timeout = _read_timespec(task, tsp) if tsp else None
    if _may_wait(task, timeout):
        raise MustExit()                 # decide before the mask changes
    old = _set_mask(task, sigmask, sigsetsize)

    def body() -> int:
        deadline = _deadline_from_ns(timeout)
        n = _do_poll(task, ufds, nfds, timeout, lambda d: _write_left(task, tsp, d, False))
        _write_left(task, tsp, deadline, False)      # the time left, on success too
        return n
    return _with_mask(task, old, body)


def _may_wait(task: Any, timeout_ns: int | None) -> bool:
    """On the poller, a call that might sleep is sent to the task's thread
    before it changes anything (the signal mask)."""
    return task.kernel.in_poller() and timeout_ns != 0


# ---------------------------------------------------------------- select

def _read_set(task: Any, addr: int, nbytes: int) -> int:
    return int.from_bytes(task.mm.copy_in(addr, nbytes), "little") if addr else 0


def _do_select(task: Any, n: int, inp: int, outp: int, exp: int, timeout_ns: int | None,
               on_interrupt: Callable[[float | None], None]) -> tuple[int, float | None]:
    if n < 0:
        raise SyscallError(errno.EINVAL)
    n = min(n, FD_SETSIZE_MAX)
    nbytes = (n + 63) // 64 * 8
    want_in = _read_set(task, inp, nbytes) & ((1 << n) - 1)
    want_out = _read_set(task, outp, nbytes) & ((1 << n) - 1)
    want_ex = _read_set(task, exp, nbytes) & ((1 << n) - 1)
    wanted = want_in | want_out | want_ex
    fds = [fd for fd in range(n) if wanted >> fd & 1]
    for fd in fds:
        f = task.fds.lookup(fd)
        if f is None or f.flags & abi.O_PATH:
            raise SyscallError(errno.EBADF)
    got = [0, 0, 0]

    def scan() -> int:
        r = w = x = 0
        count = 0
        for fd in fds:
            mask = _file_events(task, fd)
            bit = 1 << fd
            if want_in & bit and mask & SELECT_IN:
                r |= bit
                count += 1
            if want_out & bit and mask & SELECT_OUT:
                w |= bit
                count += 1
            if want_ex & bit and mask & SELECT_EX:
                x |= bit
                count += 1
        got[:] = [r, w, x]
        return count

    deadline = _deadline_from_ns(timeout_ns)
    try:
        count = _wait_for(task, scan, fds, deadline)
    except SyscallError as e:
        if e.errno == ERESTARTSYS:
            on_interrupt(deadline)
            raise SyscallError(ERESTARTNOHAND) from None
        raise
    if not count:
        got = [0, 0, 0]
    for addr, bits in zip((inp, outp, exp), got):
        if addr:
            task.mm.copy_out(addr, bits.to_bytes(nbytes, "little"))
    return count, deadline


def sys_select(task: Any, n: int, inp: int, outp: int, exp: int, tvp: int) -> int:
    timeout = None
    if tvp:
        sec, usec = TIMESPEC.unpack(task.mm.copy_in(tvp, TIMESPEC.size))
        if sec < 0 or usec < 0:
            raise SyscallError(errno.EINVAL)
        # Linux normalises an oversized tv_usec rather than refusing it.
        timeout = sec * NSEC + usec * 1000
    count, deadline = _do_select(task, n, inp, outp, exp, timeout,
                                 lambda d: _write_left(task, tvp, d, True))
    _write_left(task, tvp, deadline, True)
    return count


def sys_pselect6(task: Any, n: int, inp: int, outp: int, exp: int, tsp: int, sig: int) -> int:
    timeout = _read_timespec(task, tsp) if tsp else None
    sigmask, sigsetsize = 0, 0
    if sig:
        sigmask, sigsetsize = struct.unpack("<QQ", task.mm.copy_in(sig, 16))
    if _may_wait(task, timeout):
        raise MustExit()
    old = _set_mask(task, sigmask, sigsetsize)

    def body() -> int:
        count, deadline = _do_select(task, n, inp, outp, exp, timeout,
                                     lambda d: _write_left(task, tsp, d, False))
        _write_left(task, tsp, deadline, False)
        return count
    return _with_mask(task, old, body)
