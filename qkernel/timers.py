"""Kernel timers: one host thread that fires every armed timer of a kernel.

`kernel.timers` (a TimerService, made on first use by `service(kernel)`)
keeps the armed KTimers and a thread that sleeps until the earliest
deadline on a Condition over `kernel.lock`: so it waits with the lock
released and fires with it held, like a syscall. A firing timer calls its
`on_expire(n)` (n = expirations since the last firing, > 1 when the thread
was late for a short interval); users send a signal (itimers, POSIX timers)
or bump a counter and `kernel.notify()` (timerfd). Nothing needs a guest
syscall to happen: send_signal kicks the target's vCPU.

Deadlines are time.monotonic() seconds. An absolute CLOCK_REALTIME time is
turned into a monotonic deadline when the timer is armed, so a later change
of the host's wall clock does not move it (Linux would).

Per-process timers (setitimer/alarm, timer_create) are kept in
`ProcessTimers`, found by the thread group (`process_timers(kernel, tg)`).
They die with the process: `on_exit(kernel, tg)` / `on_exec(kernel, tg)`
are the hooks for process exit and execve; until those are wired in, a
timer whose group has gone drops itself when it next fires.
"""
from __future__ import annotations

import errno
import struct
import threading
import time
from typing import Any, Callable

from qkernel.errors import SyscallError

NSEC = 1_000_000_000
TIMESPEC = struct.Struct("<qq")
ITIMERSPEC = struct.Struct("<qqqq")          # it_interval, it_value
ITIMERVAL = struct.Struct("<qqqq")           # timevals: it_interval, it_value

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3
CLOCK_MONOTONIC_RAW = 4
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
REALTIME_CLOCKS = (CLOCK_REALTIME, CLOCK_REALTIME_ALARM)
_IDLE_EXIT_S = 2.0                           # the thread ends after this long with nothing armed


def clock_now_ns(clock: int) -> int:
    """The clock's current value (what a TIMER_ABSTIME time is measured on)."""
    if clock in REALTIME_CLOCKS:
        return time.time_ns()
    return time.monotonic_ns()


def abs_to_deadline(clock: int, abs_ns: int) -> float:
    """A TIMER_ABSTIME value on `clock` as a monotonic deadline."""
    return time.monotonic() + (abs_ns - clock_now_ns(clock)) / NSEC


def read_timespec_ns(data: bytes, offset: int = 0) -> int:
    sec, nsec = TIMESPEC.unpack_from(data, offset)
    if sec < 0 or not 0 <= nsec < NSEC:
        raise SyscallError(errno.EINVAL)
    return sec * NSEC + nsec


def split_ns(ns: int) -> tuple[int, int]:
    return divmod(max(0, ns), NSEC)


class KTimer:
    """One timer: a deadline (None = disarmed) and an interval (0 = one-shot)."""

    def __init__(self, kernel: Any, on_expire: Callable[[int], None]) -> None:
        self.kernel = kernel
        self.on_expire = on_expire
        self.deadline: float | None = None
        self.interval_ns = 0

    @property
    def armed(self) -> bool:
        return self.deadline is not None

    def arm(self, deadline: float | None, interval_ns: int) -> None:
        """Set (deadline None: disarm). Lock held."""
        self.deadline = deadline
        self.interval_ns = interval_ns if deadline is not None else 0
        svc = service(self.kernel)
        if deadline is None:
            svc.timers.discard(self)
        else:
            svc.timers.add(self)
        svc.poke()

    def disarm(self) -> None:
        self.arm(None, 0)

    def remaining_ns(self) -> int:
        """Time to the next expiry; 0 when disarmed. An armed timer whose
        expiry is being processed reads 1 ns (still active), as Linux."""
        if self.deadline is None:
            return 0
        left = int((self.deadline - time.monotonic()) * NSEC)
        return left if left > 0 else 1

    def expire(self, now: float) -> int:
        """Advance past `now`; how many expirations that was."""
        assert self.deadline is not None
        if self.interval_ns <= 0:
            self.deadline = None
            return 1
        step = self.interval_ns / NSEC
        n = 1 + int((now - self.deadline) // step)
        self.deadline += n * step
        return n


class TimerService:
    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.timers: set[KTimer] = set()
        self.cond = threading.Condition(kernel.lock)
        self.thread: threading.Thread | None = None
        self.stopped = False

    def poke(self) -> None:
        """Armed set changed (lock held): start or wake the thread."""
        if self.thread is None and self.timers and not self.stopped:
            self.thread = threading.Thread(target=self._run, name="qkernel-timers", daemon=True)
            self.thread.start()
        self.cond.notify_all()

    def stop(self) -> None:
        self.stopped = True
        self.cond.notify_all()

    def _run(self) -> None:
        kernel = self.kernel
        with kernel.lock:
            idle_since = time.monotonic()
            while not self.stopped and not kernel.shutting_down:
                now = time.monotonic()
                due = [t for t in self.timers if t.deadline is not None and t.deadline <= now]
                for t in sorted(due, key=lambda t: t.deadline or 0.0):
                    if t.deadline is None or t.deadline > now:
                        continue                  # changed by an earlier one's callback
                    n = t.expire(now)
                    if t.deadline is None:
                        self.timers.discard(t)
                    try:
                        t.on_expire(n)
                    except Exception:             # noqa: BLE001 - one bad timer must not stop the rest
                        kernel.log.exception("timer callback failed")
                        self.timers.discard(t)
                        t.deadline = None
                if self.timers:
                    idle_since = time.monotonic()
                    nxt = min(t.deadline for t in self.timers if t.deadline is not None)
                    self.cond.wait(max(0.0, nxt - time.monotonic()))
                else:
                    if time.monotonic() - idle_since > _IDLE_EXIT_S:
                        break
                    self.cond.wait(_IDLE_EXIT_S)
            self.thread = None


def service(kernel: Any) -> TimerService:
    svc = getattr(kernel, "timers", None)
    if svc is None:
        svc = TimerService(kernel)
        kernel.timers = svc
    return svc


# ---------------------------------------------------------------- per process

class ProcessTimers:
    """A process's interval timers (setitimer/alarm) and POSIX timers."""

    def __init__(self) -> None:
        self.itimers: dict[int, KTimer] = {}
        self.posix: dict[int, Any] = {}          # timer id -> PosixTimer (qkernel.syscalls.timer)
        self.next_id = 0

    def all(self) -> list[KTimer]:
        return list(self.itimers.values()) + [p.ktimer for p in self.posix.values()]


def process_timers(kernel: Any, tg: Any, create: bool = True) -> ProcessTimers | None:
    table: dict[Any, ProcessTimers] | None = getattr(kernel, "process_timers", None)
    if table is None:
        if not create:
            return None
        table = {}
        kernel.process_timers = table
    pt = table.get(tg)
    if pt is None and create:
        pt = table[tg] = ProcessTimers()
    return pt


def group_gone(tg: Any) -> bool:
    return bool(tg.exiting or tg.zombie or tg.reaped)


def on_exit(kernel: Any, tg: Any) -> None:
    """The process is gone: every timer of it goes (lock held)."""
    table = getattr(kernel, "process_timers", None)
    pt = table.pop(tg, None) if table else None
    if pt is not None:
        for t in pt.all():
            t.disarm()


def on_exec(kernel: Any, tg: Any) -> None:
    """execve: POSIX timers are deleted; the itimers (alarm) survive (lock held)."""
    pt = process_timers(kernel, tg, create=False)
    if pt is not None:
        for p in pt.posix.values():
            p.ktimer.disarm()
        pt.posix.clear()
