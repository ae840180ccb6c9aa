"""futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET,
WAKE_BITSET (with FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME). The PI
operations answer ENOSYS (glibc then falls back or reports it).

The wait table and keys are in qkernel/futex.py. Interrupted waits: an
untimed wait is restarted (ERESTARTSYS, as Linux); a timed one returns
ERESTARTNOHAND, so a handler sees EINTR and a handler-less stop/continue
restarts it (a restarted relative FUTEX_WAIT waits its whole timeout again,
where Linux keeps the original deadline through a restart block; absolute
WAIT_BITSET deadlines are exact either way).

WAKE_OP's read-modify-write is atomic against every other syscall (the
kernel lock) but not against guest code touching the word on another vCPU
at the same instant; glibc's current condvars and mutexes do not use it.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any

from qkernel import clock
from qkernel.errors import MustExit, SyscallError
from qkernel.futex import BITSET_MATCH_ANY, Waiter, futex_key, table
from qkernel.signals import ERESTARTNOHAND, ERESTARTSYS

FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAKE_OP = 5
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_PRIVATE_FLAG = 0x80
FUTEX_CLOCK_REALTIME = 0x100
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)

NSEC = 1_000_000_000
TIMESPEC = struct.Struct("<qq")


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def sys_futex(task: Any, uaddr: int, op: int, val: int, utime: int, uaddr2: int, val3: int) -> int:
    cmd = op & FUTEX_CMD_MASK & 0xFFFF_FFFF
    private = bool(op & FUTEX_PRIVATE_FLAG)
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    if realtime and cmd not in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        raise SyscallError(errno.ENOSYS)
    val &= 0xFFFF_FFFF
    val3 &= 0xFFFF_FFFF
    if cmd == FUTEX_WAIT:
        return _wait(task, uaddr, private, val, utime, BITSET_MATCH_ANY, False, realtime)
    if cmd == FUTEX_WAIT_BITSET:
        return _wait(task, uaddr, private, val, utime, val3, True, realtime)
    if cmd == FUTEX_WAKE:
        return _wake(task, uaddr, private, _s32(val), BITSET_MATCH_ANY)
    if cmd == FUTEX_WAKE_BITSET:
        return _wake(task, uaddr, private, _s32(val), val3)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        # For these, the "timeout" argument carries a count (val2).
        return _requeue(task, uaddr, uaddr2, private, _s32(val), _s32(utime),
                        val3 if cmd == FUTEX_CMP_REQUEUE else None)
    if cmd == FUTEX_WAKE_OP:
        return _wake_op(task, uaddr, uaddr2, private, _s32(val), _s32(utime), val3)
    raise SyscallError(errno.ENOSYS)         # PI futexes, FUTEX_FD, unknown ops


def _deadline(task: Any, utime: int, absolute: bool, realtime: bool) -> float | None:
    """The wait's end as a time.monotonic() value (None = forever)."""
    if not utime:
        return None
    sec, nsec = TIMESPEC.unpack(task.mm.copy_in(utime, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise SyscallError(errno.EINVAL)
    ns = sec * NSEC + nsec
    if absolute:
        now = clock.realtime_ns() if realtime else clock.clock_ns(task, clock.CLOCK_MONOTONIC)
        ns -= now
    return time.monotonic() + max(ns, 0) / NSEC


def _wait(task: Any, uaddr: int, private: bool, val: int, utime: int, bitset: int,
          absolute: bool, realtime: bool) -> int:
    if not bitset:
        raise SyscallError(errno.EINVAL)
    deadline = _deadline(task, utime, absolute, realtime)
    key = futex_key(task, uaddr, private)
    kernel = task.kernel
    # The value check and the enqueue happen under the kernel lock, which
    # every waker holds too: a wake cannot slip in between.
    if task.mm.read_u32(uaddr) != val:
        raise SyscallError(errno.EAGAIN)
    if kernel.in_poller():
        raise MustExit()               # nothing changed yet: redo it on the task's thread
    w = Waiter(task, key, bitset)
    futexes = table(kernel)
    futexes.enqueue(w)
    try:
        if kernel.wait_until(task, lambda: w.woken, deadline):
            return 0
        raise SyscallError(errno.ETIMEDOUT)
    except SyscallError as e:
        if e.errno == ERESTARTSYS and w.woken:
            return 0                   # woken and signalled at once: the wake wins, as Linux
        if e.errno == ERESTARTSYS and deadline is not None:
            raise SyscallError(ERESTARTNOHAND) from None
        raise
    finally:
        if not w.woken:
            futexes.dequeue(w)


def _wake(task: Any, uaddr: int, private: bool, nr_wake: int, bitset: int) -> int:
    if not bitset:
        raise SyscallError(errno.EINVAL)
    key = futex_key(task, uaddr, private)
    n = table(task.kernel).wake(key, nr_wake, bitset)
    if n:
        task.kernel.notify()
    return n


def _requeue(task: Any, uaddr: int, uaddr2: int, private: bool, nr_wake: int,
             nr_requeue: int, cmpval: int | None) -> int:
    if nr_wake < 0 or nr_requeue < 0:
        raise SyscallError(errno.EINVAL)
    key = futex_key(task, uaddr, private)
    key2 = futex_key(task, uaddr2, private)
    if cmpval is not None and task.mm.read_u32(uaddr) != cmpval:
        raise SyscallError(errno.EAGAIN)
    futexes = table(task.kernel)
    before = futexes.waiters(key)
    n = futexes.requeue(key, key2, nr_wake, nr_requeue)
    if futexes.waiters(key) != before:
        task.kernel.notify()
    return n


# FUTEX_WAKE_OP's encoded operation (include/uapi/linux/futex.h).
FUTEX_OP_OPARG_SHIFT = 8
_OPS = {
    0: lambda old, arg: arg,               # SET
    1: lambda old, arg: old + arg,         # ADD
    2: lambda old, arg: old | arg,         # OR
    3: lambda old, arg: old & ~arg,        # ANDN
    4: lambda old, arg: old ^ arg,         # XOR
}
_CMPS = {
    0: lambda a, b: a == b,
    1: lambda a, b: a != b,
    2: lambda a, b: a < b,
    3: lambda a, b: a <= b,
    4: lambda a, b: a > b,
    5: lambda a, b: a >= b,
}


def _sext12(v: int) -> int:
    return v - 0x1000 if v & 0x800 else v


def _wake_op(task: Any, uaddr: int, uaddr2: int, private: bool, nr_wake: int,
             nr_wake2: int, encoded: int) -> int:
    key = futex_key(task, uaddr, private)
    key2 = futex_key(task, uaddr2, private)
    op = (encoded >> 28) & 7
    cmp = (encoded >> 24) & 0xF
    oparg = _sext12((encoded >> 12) & 0xFFF)
    cmparg = _sext12(encoded & 0xFFF)
    if encoded & (FUTEX_OP_OPARG_SHIFT << 28):
        oparg = 1 << (oparg & 31)          # Linux masks an out-of-range shift too
    fn = _OPS.get(op)
    if fn is None:
        raise SyscallError(errno.ENOSYS)
    old = task.mm.read_u32(uaddr2)
    task.mm.write_u32(uaddr2, fn(old, oparg) & 0xFFFF_FFFF)
    test = _CMPS.get(cmp)
    if test is None:
        raise SyscallError(errno.ENOSYS)   # as Linux: after the operation was done
    futexes = table(task.kernel)
    n = futexes.wake(key, nr_wake)
    if test(_s32(old), cmparg):
        n += futexes.wake(key2, nr_wake2)
    if n:
        task.kernel.notify()
    return n
