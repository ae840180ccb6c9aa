"""Time sources of the guest.

Why a module of its own: the guest's clocks are not the host's.  CLOCK_REALTIME
is the host's wall clock (a container shares real time with the world), but
CLOCK_MONOTONIC and CLOCK_BOOTTIME count from the sandbox's start
(`kernel.boot_monotonic_ns`, a host CLOCK_MONOTONIC reading), as they would in a
freshly booted machine; this also keeps the host's uptime from leaking into
the guest.  CPU-time clocks come from the task's accounting.

Every function returns integer nanoseconds; callers convert to guest structs.
"""
from __future__ import annotations

import time
from typing import Any

NSEC_PER_SEC = 1_000_000_000

# Linux clockid_t values (include/uapi/linux/time.h).
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3
CLOCK_MONOTONIC_RAW = 4
CLOCK_REALTIME_COARSE = 5
CLOCK_MONOTONIC_COARSE = 6
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
CLOCK_TAI = 11

# Resolution Linux reports for the coarse clocks is one jiffy; quark reports
# the value of a HZ=250 kernel (4 ms).  High-resolution clocks report 1 ns.
COARSE_RES_NS = 4_000_000
HRES_NS = 1

KNOWN_CLOCKS = frozenset({
    CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
    CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
    CLOCK_BOOTTIME_ALARM, CLOCK_TAI,
})
COARSE_CLOCKS = frozenset({CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE})
CPU_CLOCKS = frozenset({CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID})


def realtime_ns() -> int:
    """Wall-clock time: the host's (the TAI offset is 0 as on a fresh Linux)."""
    return time.time_ns()


def monotonic_ns(kernel: Any) -> int:
    """Guest CLOCK_MONOTONIC: host monotonic time since the sandbox started."""
    base = int(getattr(kernel, "boot_monotonic_ns", 0) or 0)
    return max(0, time.monotonic_ns() - base)


def boottime_ns(kernel: Any) -> int:
    """Guest CLOCK_BOOTTIME.  A sandbox is never suspended apart from its
    host, so it equals the guest's monotonic clock."""
    return monotonic_ns(kernel)


def task_cpu_ns(task: Any) -> int:
    """CPU time of the task.

    The vCPU thread that runs the task records its CPU clock in
    `task.extra["cpu_clock"]` as (clock id, value when the task started): guest
    execution is charged to that thread by the host. Without one (unit
    tests), the sandbox process's CPU time is the approximation.
    """
    accounted = int(getattr(task, "cpu_time_ns", 0) or 0)
    clock = task.extra.get("cpu_clock") if hasattr(task, "extra") else None
    if clock is not None:
        clock_id, base = clock
        return accounted + max(time.clock_gettime_ns(clock_id) - base, 0)
    if accounted > 0:
        return accounted
    return time.process_time_ns()


def clock_ns(task: Any, clockid: int) -> int:
    """Read a known clock (see KNOWN_CLOCKS); the caller validates the id."""
    if clockid in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_REALTIME_ALARM, CLOCK_TAI):
        return realtime_ns()
    if clockid in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE):
        return monotonic_ns(task.kernel)
    if clockid in (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM):
        return boottime_ns(task.kernel)
    if clockid in CPU_CLOCKS:
        return task_cpu_ns(task)
    raise ValueError(f"unknown clock {clockid}")


def resolution_ns(clockid: int) -> int:
    return COARSE_RES_NS if clockid in COARSE_CLOCKS else HRES_NS


def split_ns(ns: int) -> tuple[int, int]:
    """Nanoseconds -> (seconds, nanoseconds) with 0 <= nanoseconds < 1e9."""
    return divmod(ns, NSEC_PER_SEC)
