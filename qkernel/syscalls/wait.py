"""wait4 and waitid: reaping children, and stop/continue notifications."""
from __future__ import annotations

import errno
import struct

from qkernel.errors import SyscallError
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup

WNOHANG = 0x1
WUNTRACED = 0x2          # WSTOPPED for waitid
WEXITED = 0x4
WCONTINUED = 0x8
WNOWAIT = 0x01000000
__WNOTHREAD = 0x20000000
__WALL = 0x40000000
__WCLONE = 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 5, 6
SIGCHLD = 17


def _matches(child: ThreadGroup, task: Task, which: int, ident: int, options: int) -> bool:
    if which == P_PID and child.pid != ident:
        return False
    if which == P_PGID and child.pgid != ident:
        return False
    # __WCLONE selects children that do not signal SIGCHLD at exit; __WALL both.
    if not options & __WALL and bool(options & __WCLONE) != (child.exit_signal != SIGCHLD):
        return False
    return True


def _find_event(task: Task, which: int, ident: int, options: int) -> tuple[ThreadGroup, str] | None:
    """A child with something to report: ("exited"|"stopped"|"continued")."""
    for child in list(task.tg.children):
        if not _matches(child, task, which, ident, options):
            continue
        if child.zombie and options & WEXITED:
            return child, "exited"
        for kind, _sig in child.wait_events:
            if kind == "stopped" and options & WUNTRACED:
                return child, kind
            if kind == "continued" and options & WCONTINUED:
                return child, kind
    return None


def _has_candidates(task: Task, which: int, ident: int, options: int) -> bool:
    return any(_matches(c, task, which, ident, options) for c in task.tg.children)


def _wait(task: Task, which: int, ident: int, options: int) -> tuple[ThreadGroup, str] | None:
    if not _has_candidates(task, which, ident, options):
        raise SyscallError(errno.ECHILD)
    found = _find_event(task, which, ident, options)
    if found is not None or options & WNOHANG:
        return found
    box: list[tuple[ThreadGroup, str]] = []

    def ready() -> bool:
        if not _has_candidates(task, which, ident, options):
            return True
        hit = _find_event(task, which, ident, options)
        if hit is not None:
            box.append(hit)
        return hit is not None

    task.kernel.wait_until(task, ready)
    if not box:
        raise SyscallError(errno.ECHILD)
    return box[0]


def _consume(task: Task, child: ThreadGroup, kind: str, options: int) -> int:
    """Take the event off the child (reap a zombie); returns its wait status."""
    if kind == "exited":
        status = child.group_exit_status or 0
        if not options & WNOWAIT:
            child.reaped = True
            if child in task.tg.children:
                task.tg.children.remove(child)
            task.kernel.thread_groups.pop(child.pid, None)
            task.tg.children_cpu_ns += child.children_cpu_ns
        return status
    for i, (k, sig) in enumerate(child.wait_events):
        if k == kind:
            if not options & WNOWAIT:
                del child.wait_events[i]
            return (sig << 8) | 0x7F if kind == "stopped" else 0xFFFF
    return 0


def sys_wait4(task: Task, upid: int, stat_addr: int, options: int, ru: int) -> int:
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE):
        raise SyscallError(errno.EINVAL)
    if upid == -1:
        which, ident = P_ALL, 0
    elif upid < -1:
        which, ident = P_PGID, -upid
    elif upid == 0:
        which, ident = P_PGID, task.pgid
    else:
        which, ident = P_PID, upid
    found = _wait(task, which, ident, options | WEXITED)
    if found is None:
        return 0
    child, kind = found
    status = _consume(task, child, kind, 0)
    if stat_addr:
        task.mm.write_u32(stat_addr, status)
    if ru:
        task.mm.copy_out(ru, bytes(144))
    return child.pid


def sys_waitid(task: Task, which: int, upid: int, infop: int, options: int, ru: int) -> int:
    if which not in (P_ALL, P_PID, P_PGID):
        raise SyscallError(errno.EINVAL)
    if options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD
                   | __WALL | __WCLONE) or not options & (WEXITED | WUNTRACED | WCONTINUED):
        raise SyscallError(errno.EINVAL)
    ident = upid if which != P_PGID or upid else task.pgid
    found = _wait(task, which, ident, options)
    if found is None:
        if infop:
            task.mm.copy_out(infop, bytes(128))
        return 0
    child, kind = found
    status = _consume(task, child, kind, options)
    if infop:
        if kind == "exited":
            if status & 0x7F:
                code, value = (CLD_DUMPED if status & 0x80 else CLD_KILLED), status & 0x7F
            else:
                code, value = CLD_EXITED, (status >> 8) & 0xFF
        elif kind == "stopped":
            code, value = CLD_STOPPED, (status >> 8) & 0xFF
        else:
            code, value = CLD_CONTINUED, 18
        info = bytearray(128)
        # si_signo, si_errno, si_code, then (pid, uid, status) of the child
        struct.pack_into("<iii", info, 0, SIGCHLD, 0, code)
        struct.pack_into("<iIi", info, 16, child.pid, 0, value)
        task.mm.copy_out(infop, bytes(info))
    if ru:
        task.mm.copy_out(ru, bytes(144))
    return 0
