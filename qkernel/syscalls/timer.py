"""Timers: alarm, setitimer/getitimer, timer_* (POSIX timers), timerfd_*.

The firing is qkernel/timers.py's thread: it calls back here with the
kernel lock held, and we send the signal or bump the timerfd count.

Partial: ITIMER_VIRTUAL / ITIMER_PROF and timers on the CPU-time clocks
count real (monotonic) time, not the process's CPU time.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any

from qkernel import timers
from qkernel.errors import SyscallError
from qkernel.signals.consts import NSIG, SI_TIMER, SIGALRM, SIGPROF, SIGVTALRM
from qkernel.signals.siginfo import SigInfo
from qkernel.syscalls.fs_common import install
from qkernel.timers import (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC,
                            CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_ALARM,
                            CLOCK_THREAD_CPUTIME_ID, ITIMERSPEC, ITIMERVAL, NSEC, KTimer,
                            abs_to_deadline, process_timers, split_ns)
from qkernel.vfs import abi
from qkernel.vfs.eventfd import U64, AnonFile

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
ITIMER_SIGNALS = {ITIMER_REAL: SIGALRM, ITIMER_VIRTUAL: SIGVTALRM, ITIMER_PROF: SIGPROF}
TIMER_ABSTIME = 1
TFD_TIMER_ABSTIME = 1
TFD_TIMER_CANCEL_ON_SET = 2
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SIGEVENT = struct.Struct("<qiii")            # sigev_value, signo, notify, _tid
SIGEVENT_SIZE = 64
DELAYTIMER_MAX = 0x7FFF_FFFF
POSIX_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM)
TIMERFD_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                  CLOCK_BOOTTIME_ALARM)
POLLIN, POLLRDNORM = 0x1, 0x40
USEC = 1000


# ---------------------------------------------------------------- itimers

def _itimer(task: Any, which: int) -> KTimer:
    pt = process_timers(task.kernel, task.tg)
    assert pt is not None
    t = pt.itimers.get(which)
    if t is None:
        tg, kernel, signo = task.tg, task.kernel, ITIMER_SIGNALS[which]

        def fire(n: int) -> None:
            if timers.group_gone(tg):
                timers.on_exit(kernel, tg)
                return
            from qkernel.signals import send_signal
            send_signal(kernel, tg, signo)
        t = pt.itimers[which] = KTimer(kernel, fire)
    return t


def _itimerval(t: KTimer) -> bytes:
    """it_interval, it_value as timevals (remaining time rounded up to a µs)."""
    isec, insec = split_ns(t.interval_ns)
    rem = t.remaining_ns()
    vsec, vnsec = split_ns(rem)
    vusec = (vnsec + USEC - 1) // USEC
    if vusec == 1_000_000:
        vsec, vusec = vsec + 1, 0
    return ITIMERVAL.pack(isec, (insec + USEC - 1) // USEC, vsec, vusec)


def _check_which(which: int) -> None:
    if which not in ITIMER_SIGNALS:
        raise SyscallError(errno.EINVAL)


def sys_getitimer(task: Any, which: int, value: int) -> int:
    _check_which(which)
    task.mm.copy_out(value, _itimerval(_itimer(task, which)))
    return 0


def _timeval_ns(sec: int, usec: int) -> int:
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise SyscallError(errno.EINVAL)
    return sec * NSEC + usec * USEC


def sys_setitimer(task: Any, which: int, value: int, ovalue: int) -> int:
    _check_which(which)
    interval_ns = value_ns = 0
    if value:          # NULL means "disarm", as Linux (with a warning there)
        isec, iusec, vsec, vusec = ITIMERVAL.unpack(task.mm.copy_in(value, ITIMERVAL.size))
        interval_ns = _timeval_ns(isec, iusec)
        value_ns = _timeval_ns(vsec, vusec)
    t = _itimer(task, which)
    old = _itimerval(t)
    if ovalue:
        task.mm.copy_out(ovalue, old)
    t.arm(time.monotonic() + value_ns / NSEC if value_ns else None, interval_ns)
    return 0


def sys_alarm(task: Any, seconds: int) -> int:
    t = _itimer(task, ITIMER_REAL)
    rem = t.remaining_ns()
    t.arm(time.monotonic() + seconds if seconds else None, 0)
    secs, nsec = divmod(rem, NSEC)
    usec = (nsec + USEC - 1) // USEC
    # As Linux's alarm_setitimer: round to the nearest second, never 0 for an armed alarm.
    if (not secs and usec) or usec >= 500_000:
        secs += 1
    return secs


# ---------------------------------------------------------------- POSIX timers

class PosixTimer:
    def __init__(self, task: Any, timer_id: int, clock: int, notify: int, signo: int,
                 value: int, target: Any) -> None:
        self.id = timer_id
        self.clock = clock
        self.notify = notify
        self.signo = signo
        self.value = value
        self.tg = task.tg
        self.target = target               # a Task (SIGEV_THREAD_ID) or the ThreadGroup
        self.overrun = 0                   # timer_getoverrun: of the last delivered signal
        self.info: SigInfo | None = None   # our queued, not yet delivered signal
        self.ktimer = KTimer(task.kernel, self._fire)

    def _queued(self) -> bool:
        info = self.info
        if info is None:
            return False
        queues = [self.tg.shared_pending] + [t.pending for t in self.tg.tasks.values()]
        return any(any(i is info for i in q.get(self.signo, ())) for q in queues)

    def _fire(self, n: int) -> None:
        kernel = self.ktimer.kernel
        if timers.group_gone(self.tg):
            timers.on_exit(kernel, self.tg)
            return
        if self.notify == SIGEV_NONE:
            return
        if self._queued():
            # Still pending: one signal stands for all (Linux counts overruns).
            assert self.info is not None
            self.info.overrun = min(DELAYTIMER_MAX, self.info.overrun + n)
            self.overrun = self.info.overrun
            return
        target = self.target
        if target is not self.tg and (target.exited or target.tg is not self.tg):
            target = self.tg
        info = SigInfo(signo=self.signo, code=SI_TIMER, tid=self.id,
                       overrun=min(DELAYTIMER_MAX, n - 1), value=self.value, kernel_sent=True)
        self.overrun = info.overrun
        from qkernel.signals import send_signal
        if send_signal(kernel, target, self.signo, info):
            self.info = info


def _posix(task: Any, timer_id: int) -> PosixTimer:
    pt = process_timers(task.kernel, task.tg)
    assert pt is not None
    p = pt.posix.get(timer_id)
    if p is None:
        raise SyscallError(errno.EINVAL)
    return p


def sys_timer_create(task: Any, which_clock: int, timer_event_spec: int, created_timer_id: int) -> int:
    if which_clock not in POSIX_CLOCKS:
        raise SyscallError(errno.EINVAL)
    pt = process_timers(task.kernel, task.tg)
    assert pt is not None
    tid_target: Any = task.tg
    if timer_event_spec:
        raw = task.mm.copy_in(timer_event_spec, SIGEVENT_SIZE)
        value, signo, notify, tid = SIGEVENT.unpack_from(raw)
        if notify == SIGEV_SIGNAL | SIGEV_THREAD_ID:
            tid_target = task.kernel.find_task(tid)
            if tid_target is None or tid_target.tg is not task.tg:
                raise SyscallError(errno.EINVAL)
        elif notify not in (SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_NONE):
            raise SyscallError(errno.EINVAL)
        if notify != SIGEV_NONE and not 1 <= signo <= NSIG:
            raise SyscallError(errno.EINVAL)
        if notify == SIGEV_THREAD:
            notify = SIGEV_SIGNAL           # the kernel sees SIGEV_THREAD as a plain signal
    else:
        value, signo, notify = -1, SIGALRM, SIGEV_SIGNAL
    timer_id = pt.next_id
    while timer_id in pt.posix:
        timer_id = (timer_id + 1) & 0x7FFF_FFFF
    if not timer_event_spec:
        value = timer_id                    # the default sigev_value is the timer id
    task.mm.copy_out(created_timer_id, struct.pack("<i", timer_id))
    pt.next_id = (timer_id + 1) & 0x7FFF_FFFF
    pt.posix[timer_id] = PosixTimer(task, timer_id, which_clock, notify, signo, value, tid_target)
    return 0


def _itimerspec(t: KTimer) -> bytes:
    isec, insec = split_ns(t.interval_ns)
    vsec, vnsec = split_ns(t.remaining_ns())
    return ITIMERSPEC.pack(isec, insec, vsec, vnsec)


def _read_itimerspec(task: Any, addr: int) -> tuple[int, int]:
    """(interval_ns, value_ns) of a guest itimerspec; EINVAL on a bad field."""
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(task.mm.copy_in(addr, ITIMERSPEC.size))
    for sec, nsec in ((isec, insec), (vsec, vnsec)):
        if sec < 0 or not 0 <= nsec < NSEC:
            raise SyscallError(errno.EINVAL)
    return isec * NSEC + insec, vsec * NSEC + vnsec


def _arm(t: KTimer, clock: int, absolute: bool, interval_ns: int, value_ns: int) -> None:
    if not value_ns:
        t.disarm()
        return
    if absolute:
        deadline = abs_to_deadline(clock, value_ns)
    else:
        deadline = time.monotonic() + value_ns / NSEC
    t.arm(deadline, interval_ns)


def sys_timer_settime(task: Any, timer_id: int, flags: int, new_setting: int, old_setting: int) -> int:
    p = _posix(task, timer_id)
    if not new_setting:
        raise SyscallError(errno.EINVAL)
    interval_ns, value_ns = _read_itimerspec(task, new_setting)
    if old_setting:
        task.mm.copy_out(old_setting, _itimerspec(p.ktimer))
    _arm(p.ktimer, p.clock, bool(flags & TIMER_ABSTIME), interval_ns, value_ns)
    p.overrun = 0
    return 0


def sys_timer_gettime(task: Any, timer_id: int, setting: int) -> int:
    p = _posix(task, timer_id)
    t = p.ktimer
    if p.notify == SIGEV_NONE and t.deadline is not None and t.deadline <= time.monotonic():
        # Nobody fires a SIGEV_NONE timer: bring it up to date here.
        t.expire(time.monotonic())
        if t.deadline is None:
            t.disarm()
    task.mm.copy_out(setting, _itimerspec(t))
    return 0


def sys_timer_getoverrun(task: Any, timer_id: int) -> int:
    return _posix(task, timer_id).overrun


def sys_timer_delete(task: Any, timer_id: int) -> int:
    p = _posix(task, timer_id)
    p.ktimer.disarm()
    pt = process_timers(task.kernel, task.tg)
    assert pt is not None
    del pt.posix[timer_id]
    return 0


# ---------------------------------------------------------------- timerfd

class TimerFd(AnonFile):
    kind = "timerfd"

    def __init__(self, kernel: Any, clock: int, flags: int) -> None:
        super().__init__(flags & abi.O_NONBLOCK, kernel)
        self.clock = clock
        self.ticks = 0
        self.ktimer = KTimer(kernel, self._fire)

    def _fire(self, n: int) -> None:
        self.ticks += n
        self.changed()

    def release(self) -> None:
        if self.kernel.lock.acquire(blocking=False):
            try:
                self.ktimer.disarm()
            finally:
                self.kernel.lock.release()
        else:
            self.ktimer.disarm()           # inside a syscall: the lock is ours

    def read(self, task: Any, n: int) -> bytes:
        if n < 8:
            raise SyscallError(errno.EINVAL)
        self._wait(task, lambda: self.ticks > 0)
        value, self.ticks = self.ticks, 0
        self.event_seq += 1
        return U64.pack(value)

    def write(self, task: Any, data: bytes) -> int:
        raise SyscallError(errno.EINVAL)

    def poll_events(self, task: Any) -> int:
        return POLLIN | POLLRDNORM if self.ticks else 0

    def settime(self, task: Any, flags: int, interval_ns: int, value_ns: int) -> bytes:
        old = _itimerspec(self.ktimer)
        self.ticks = 0
        _arm(self.ktimer, self.clock, bool(flags & TFD_TIMER_ABSTIME), interval_ns, value_ns)
        self.changed()
        return old


def _timerfd(task: Any, fd: int) -> TimerFd:
    f = task.fds.get(fd)
    if not isinstance(f, TimerFd):
        raise SyscallError(errno.EINVAL)
    return f


def sys_timerfd_create(task: Any, clockid: int, flags: int) -> int:
    if flags & ~(abi.O_NONBLOCK | abi.O_CLOEXEC):
        raise SyscallError(errno.EINVAL)
    if clockid not in TIMERFD_CLOCKS:
        raise SyscallError(errno.EINVAL)
    return install(task, TimerFd(task.kernel, clockid, flags), bool(flags & abi.O_CLOEXEC))


def sys_timerfd_settime(task: Any, ufd: int, flags: int, utmr: int, otmr: int) -> int:
    f = _timerfd(task, ufd)
    if flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET):
        raise SyscallError(errno.EINVAL)
    interval_ns, value_ns = _read_itimerspec(task, utmr)
    if otmr:
        task.mm.copy_out(otmr, _itimerspec(f.ktimer))
    f.settime(task, flags, interval_ns, value_ns)
    return 0


def sys_timerfd_gettime(task: Any, ufd: int, otmr: int) -> int:
    f = _timerfd(task, ufd)
    task.mm.copy_out(otmr, _itimerspec(f.ktimer))
    return 0
