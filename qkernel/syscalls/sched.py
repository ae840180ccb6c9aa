"""Scheduling calls: sched_yield, the policy/priority calls, getcpu, and
nice values (getpriority/setpriority).

Every guest task is a host thread scheduled by the host; quark has no
scheduler of its own to tune. So the only policies are the normal ones
(SCHED_OTHER, and BATCH/IDLE accepted and recorded, all with priority 0);
real-time policies need CAP_SYS_NICE, which a container does not get
(EPERM). Nice values are recorded per task (task.extra["nice"]) so a
program reads back what it set; they do not change host scheduling.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any, Iterable

from qkernel.errors import SyscallError

SCHED_OTHER = 0
SCHED_FIFO = 1
SCHED_RR = 2
SCHED_BATCH = 3
SCHED_IDLE = 5
SCHED_DEADLINE = 6
SCHED_RESET_ON_FORK = 0x4000_0000
NORMAL_POLICIES = (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE)
RR_TIMESLICE_NS = 100_000_000          # Linux's RR_TIMESLICE (100 ms)

PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2
NICE_MIN, NICE_MAX = -20, 19
RLIMIT_NICE = 13


def sys_sched_yield(task: Any) -> int:
    # Let other host threads (other tasks, the poller) take the CPU; the
    # kernel lock must not be held across the yield or nobody could run.
    with task.kernel.unlocked():
        time.sleep(0)
    return 0


# ---------------------------------------------------------------- policy

def _target(task: Any, pid: int) -> Any:
    """The task a sched_* call names: 0 = the caller, else a thread id."""
    if pid < 0:
        raise SyscallError(errno.EINVAL)
    if pid == 0 or pid == task.tid:
        return task
    find = getattr(task.kernel, "find_task", None)
    other = find(pid) if find is not None else None
    if other is None:
        raise SyscallError(errno.ESRCH)
    return other


def _policy(t: Any) -> int:
    return int(t.extra.get("sched_policy", SCHED_OTHER))


def sys_sched_getscheduler(task: Any, pid: int) -> int:
    return _policy(_target(task, pid))


def sys_sched_getparam(task: Any, pid: int, param: int) -> int:
    if not param:
        raise SyscallError(errno.EINVAL)
    _target(task, pid)
    task.mm.write_u32(param, 0)            # struct sched_param {int sched_priority}
    return 0


def _check_param(task: Any, param: int, policy: int) -> None:
    if not param:
        raise SyscallError(errno.EINVAL)
    prio = struct.unpack("<i", task.mm.copy_in(param, 4))[0]
    if policy in (SCHED_FIFO, SCHED_RR):
        if not 1 <= prio <= 99:
            raise SyscallError(errno.EINVAL)
        raise SyscallError(errno.EPERM)     # real-time needs CAP_SYS_NICE
    if prio != 0:
        raise SyscallError(errno.EINVAL)


def sys_sched_setscheduler(task: Any, pid: int, policy: int, param: int) -> int:
    if pid < 0:
        raise SyscallError(errno.EINVAL)
    base = policy & ~SCHED_RESET_ON_FORK
    if policy < 0 or base not in NORMAL_POLICIES + (SCHED_FIFO, SCHED_RR):
        raise SyscallError(errno.EINVAL)
    _check_param(task, param, base)
    _target(task, pid).extra["sched_policy"] = base
    return 0


def sys_sched_setparam(task: Any, pid: int, param: int) -> int:
    if pid < 0 or not param:
        raise SyscallError(errno.EINVAL)
    t = _target(task, pid)
    _check_param(task, param, _policy(t))
    return 0


def sys_sched_get_priority_max(task: Any, policy: int) -> int:
    if policy in (SCHED_FIFO, SCHED_RR):
        return 99
    if policy in NORMAL_POLICIES + (SCHED_DEADLINE,):
        return 0
    raise SyscallError(errno.EINVAL)


def sys_sched_get_priority_min(task: Any, policy: int) -> int:
    if policy in (SCHED_FIFO, SCHED_RR):
        return 1
    if policy in NORMAL_POLICIES + (SCHED_DEADLINE,):
        return 0
    raise SyscallError(errno.EINVAL)


def sys_sched_rr_get_interval(task: Any, pid: int, interval: int) -> int:
    # Linux reports the fair class's current slice, which varies with load;
    # quark reports the round-robin quantum as a stable stand-in.
    _target(task, pid)
    sec, nsec = divmod(RR_TIMESLICE_NS, 1_000_000_000)
    task.mm.copy_out(interval, struct.pack("<qq", sec, nsec))
    return 0


def sys_getcpu(task: Any, cpu: int, node: int, cache: int) -> int:
    # Tasks migrate between host CPUs at the host's will; one CPU, one node.
    if cpu:
        task.mm.write_u32(cpu, 0)
    if node:
        task.mm.write_u32(node, 0)
    return 0


# ---------------------------------------------------------------- nice

def _nice(t: Any) -> int:
    return int(t.extra.get("nice", 0))


def _all_tasks(task: Any) -> Iterable[Any]:
    tasks = getattr(task.kernel, "tasks", None)
    return list(tasks.values()) if tasks else [task]


def _prio_targets(task: Any, which: int, who: int) -> list[Any]:
    if which == PRIO_PROCESS:
        if who == 0:
            return [task]
        find = getattr(task.kernel, "find_task", None)
        t = find(who) if find is not None and who > 0 else None
        return [t] if t is not None else []
    if which == PRIO_PGRP:
        pgid = task.pgid if who == 0 else who
        return [t for t in _all_tasks(task) if t.pgid == pgid]
    if which == PRIO_USER:
        uid = task.creds.uid if who == 0 else who & 0xFFFF_FFFF
        return [t for t in _all_tasks(task) if t.creds.uid == uid]
    raise SyscallError(errno.EINVAL)


def sys_getpriority(task: Any, which: int, who: int) -> int:
    targets = _prio_targets(task, which, who)
    if not targets:
        raise SyscallError(errno.ESRCH)
    # The raw syscall returns 20 - nice (1..40) so that it is never negative;
    # the C library turns it back into a nice value.
    return max(20 - _nice(t) for t in targets)


def sys_setpriority(task: Any, which: int, who: int, niceval: int) -> int:
    targets = _prio_targets(task, which, who)
    if not targets:
        raise SyscallError(errno.ESRCH)
    nice = max(NICE_MIN, min(NICE_MAX, niceval))
    err = 0
    for t in targets:
        if task.creds.euid != 0 and t.creds.uid != task.creds.euid and t.creds.euid != task.creds.euid:
            err = errno.EPERM
            continue
        # Raising priority (lowering nice) needs RLIMIT_NICE room or
        # CAP_SYS_NICE, which the container does not have.
        if nice < _nice(t) and 20 - nice > task.limits.get(RLIMIT_NICE)[0]:
            err = errno.EACCES
            continue
        t.extra["nice"] = nice
    if err:
        raise SyscallError(err)
    return 0
