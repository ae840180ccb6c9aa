"""Time syscalls: clock_gettime/getres, gettimeofday, time, nanosleep,
clock_nanosleep.  The clocks themselves live in qkernel/clock.py.

Sleeping: a task sleeps in `kernel.wait_until` (the kernel lock is released
meanwhile and a signal ends the wait); see `_sleep` for what an interrupted
sleep returns. The QCall poller must never block, so a sleep seen there
raises MustExit and is re-run on the task's own thread.
"""
from __future__ import annotations

import errno
import struct
import time as _time
from typing import Any

from qkernel import clock
from qkernel.clock import NSEC_PER_SEC
from qkernel.errors import MustExit, SyscallError
from qkernel.signals import ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTSYS

TIMER_ABSTIME = 1
TIMESPEC = struct.Struct("<qq")     # struct timespec / timeval: two longs


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _cpu_clock_ok(task: Any, clockid: int) -> bool:
    """Negative clock ids name a CPU clock of a process or thread
    (clock_getcpuclockid): pid = ~(id >> 3), type = id & 3 (2 = sched),
    bit 2 = per-thread.  Only this task's own clocks exist in v0."""
    if clockid & 3 == 3:
        return False
    pid = ~(clockid >> 3)
    per_thread = bool(clockid & 4)
    own = task.tid if per_thread else task.pid
    return pid in (0, own)


def _read_clock(task: Any, clockid: int) -> int:
    clockid = _s32(clockid)
    if clockid < 0:
        if not _cpu_clock_ok(task, clockid):
            raise SyscallError(errno.EINVAL)
        return clock.task_cpu_ns(task)
    if clockid not in clock.KNOWN_CLOCKS:
        raise SyscallError(errno.EINVAL)
    return clock.clock_ns(task, clockid)


def _write_timespec(task: Any, addr: int, ns: int) -> None:
    task.mm.copy_out(addr, TIMESPEC.pack(*clock.split_ns(ns)))


def _read_timespec(task: Any, addr: int) -> int:
    """Read a struct timespec and validate it as a sleep duration/deadline."""
    sec, nsec = TIMESPEC.unpack(task.mm.copy_in(addr, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < NSEC_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return sec * NSEC_PER_SEC + nsec


def sys_clock_gettime(task: Any, clockid: int, tp: int) -> int:
    _write_timespec(task, tp, _read_clock(task, clockid))
    return 0


def sys_clock_getres(task: Any, clockid: int, res: int) -> int:
    clockid = _s32(clockid)
    if clockid < 0:
        if not _cpu_clock_ok(task, clockid):
            raise SyscallError(errno.EINVAL)
        ns = clock.HRES_NS
    elif clockid in clock.KNOWN_CLOCKS:
        ns = clock.resolution_ns(clockid)
    else:
        raise SyscallError(errno.EINVAL)
    if res:                                  # res may be NULL
        _write_timespec(task, res, ns)
    return 0


def sys_gettimeofday(task: Any, tv: int, tz: int) -> int:
    if tv:
        sec, nsec = clock.split_ns(clock.realtime_ns())
        task.mm.copy_out(tv, TIMESPEC.pack(sec, nsec // 1000))
    if tz:
        # struct timezone {tz_minuteswest, tz_dsttime}: the kernel's is UTC.
        task.mm.copy_out(tz, struct.pack("<ii", 0, 0))
    return 0


def sys_time(task: Any, tloc: int) -> int:
    now = clock.realtime_ns() // NSEC_PER_SEC
    if tloc:
        task.mm.write_u64(tloc, now)
    return now


# ---------------------------------------------------------------- sleeping

def _now(task: Any, clockid: int) -> int:
    return clock.task_cpu_ns(task) if clockid < 0 else clock.clock_ns(task, clockid)


def _sleep(task: Any, clockid: int, flags: int, req: int, rem: int) -> int:
    """Common body of nanosleep and clock_nanosleep (validated clock id).

    The task sleeps in `kernel.wait_until` with nothing to wait for but the
    deadline, so the kernel lock is free meanwhile and a signal ends the
    sleep. Interrupted, it answers as Linux: a relative sleep writes the
    time left to `rem` and returns ERESTART_RESTARTBLOCK (EINTR for a
    handler; quark's signal code also turns the no-handler case into EINTR
    rather than re-entering through restart_syscall, so such a sleep ends
    early with `rem` set); an absolute one returns ERESTARTNOHAND, whose
    plain restart reaches the same deadline.
    """
    want = _read_timespec(task, req)
    kernel = task.kernel
    now = _now(task, clockid)
    absolute = bool(flags & TIMER_ABSTIME)
    left = want - now if absolute else want
    if left <= 0:
        return 0
    if kernel.in_poller():
        raise MustExit()                 # sleeping is for the task's own thread
    # CPU time advances only while the task runs, so a sleeping task would
    # never reach a CPU-clock deadline: it sleeps the same span of wall time.
    # Other clocks all tick at the monotonic rate, so one monotonic deadline
    # serves them (quark's guests cannot set the realtime clock).
    end = _time.monotonic() + left / NSEC_PER_SEC
    try:
        kernel.wait_until(task, lambda: False, end)
    except SyscallError as e:
        if e.errno != ERESTARTSYS:
            raise
        if absolute:
            raise SyscallError(ERESTARTNOHAND) from None
        if rem:
            left_ns = max(0, int((end - _time.monotonic()) * NSEC_PER_SEC))
            _write_timespec(task, rem, left_ns)
        raise SyscallError(ERESTART_RESTARTBLOCK) from None
    return 0


def sys_nanosleep(task: Any, req: int, rem: int) -> int:
    return _sleep(task, clock.CLOCK_MONOTONIC, 0, req, rem)


# Clocks clock_nanosleep accepts (kernel/time/posix-timers.c: clocks with an
# nsleep method); the ALARM clocks need CAP_WAKE_ALARM, granted to euid 0.
_NSLEEP_CLOCKS = frozenset({
    clock.CLOCK_REALTIME, clock.CLOCK_MONOTONIC, clock.CLOCK_BOOTTIME,
    clock.CLOCK_TAI, clock.CLOCK_PROCESS_CPUTIME_ID,
    clock.CLOCK_REALTIME_ALARM, clock.CLOCK_BOOTTIME_ALARM,
})


def sys_clock_nanosleep(task: Any, clockid: int, flags: int, req: int, rem: int) -> int:
    clockid = _s32(clockid)
    if clockid < 0:
        # A per-thread CPU clock cannot be slept on (Linux: EINVAL).
        if not _cpu_clock_ok(task, clockid) or clockid & 4:
            raise SyscallError(errno.EINVAL)
    elif clockid not in clock.KNOWN_CLOCKS:
        raise SyscallError(errno.EINVAL)
    elif clockid not in _NSLEEP_CLOCKS:
        raise SyscallError(errno.EOPNOTSUPP)   # THREAD_CPUTIME, MONOTONIC_RAW, coarse
    elif clockid in (clock.CLOCK_REALTIME_ALARM, clock.CLOCK_BOOTTIME_ALARM) \
            and task.creds.euid != 0:
        raise SyscallError(errno.EPERM)
    return _sleep(task, clockid, _u32(flags), req, rem)


def _u32(v: int) -> int:
    return v & 0xFFFF_FFFF
