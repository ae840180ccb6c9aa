"""What happens when a task's thread ends: thread, process, parent, orphans.

Called by the task's own host thread with the kernel lock held, after the
task has left the guest for good.
"""
from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from qkernel.threadgroup import ThreadGroup

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.kernel import Kernel
    from qkernel.task import Task

SA_NOCLDWAIT = 0x2
SIG_IGN = 1


def release_task(kernel: "Kernel", task: "Task") -> None:
    task.exited = True
    task.cpu = None
    _clear_child_tid(kernel, task)
    _release_vfork_parent(task)
    tg = task.tg
    tg.tasks.pop(task.tid, None)
    kernel.tasks.pop(task.tid, None)
    _drop_shared(task)
    if tg.tasks:
        kernel.notify()
        return
    # The last thread: the process is gone; a zombie until its parent reaps it.
    if tg.group_exit_status is None:
        tg.group_exit_status = task.exit_status or 0
    tg.exiting = True
    tg.zombie = True
    from qkernel import timers
    timers.on_exit(kernel, tg)
    _leave_terminal(kernel, tg)
    _reparent_children(kernel, tg)
    parent = tg.parent
    if parent is None or tg is kernel.init_tg:
        tg.reaped = True
        if tg is kernel.init_tg:
            _init_died(kernel)
        else:       # a `quark exec` process: nobody in the container waits for it
            kernel.thread_groups.pop(tg.pid, None)
    else:
        _notify_parent(kernel, tg, parent)
    kernel.notify()


def _clear_child_tid(kernel: "Kernel", task: "Task") -> None:
    """CLONE_CHILD_CLEARTID and the robust futex list (pthread_join relies on it)."""
    from qkernel import futex
    futex.futex_wake_for_exit(kernel, task)


def _release_vfork_parent(task: "Task") -> None:
    parent = task.vfork_parent
    if parent is not None:
        parent.extra["vfork_done"] = True
        task.vfork_parent = None


def _drop_shared(task: "Task") -> None:
    """Let go of the address space and fd table when no other task uses them."""
    mm = task.mm
    users = getattr(mm, "users", 1) - 1
    mm.users = users
    if users <= 0:
        mm.release()
    fds = task.fds
    fd_users = getattr(fds, "users", 1) - 1
    fds.users = fd_users
    if fd_users <= 0:
        fds.close_all()


def _leave_terminal(kernel: "Kernel", tg: ThreadGroup) -> None:
    """A session leader's exit frees its controlling terminal for another
    session; the foreground group is hung up (Linux's disassociate_ctty(1))."""
    term = tg.ctty
    tg.ctty = None
    if term is not None and tg.sid == tg.pid and term.session == tg.sid:
        term.disassociate(kernel, on_exit=True)


def _reparent_children(kernel: "Kernel", tg: ThreadGroup) -> None:
    init = kernel.init_tg
    from qkernel import signals
    for child in list(tg.children):
        for t in list(child.tasks.values()):
            sig = t.extra.get("pdeathsig", 0)     # prctl(PR_SET_PDEATHSIG)
            if sig:
                signals.send_signal(kernel, t, sig, None)
        child.parent = init if init is not None and init is not tg else None
        if child.parent is not None:
            child.parent.children.append(child)
            if child.zombie:
                _notify_parent(kernel, child, child.parent)
        elif child.zombie:
            child.reaped = True
            kernel.thread_groups.pop(child.pid, None)
    tg.children.clear()


def _notify_parent(kernel: "Kernel", tg: ThreadGroup, parent: ThreadGroup) -> None:
    action = parent.sigactions.get(signal.SIGCHLD)
    ignored = action is not None and (action.handler == SIG_IGN or action.flags & SA_NOCLDWAIT)
    if ignored and tg.exit_signal == signal.SIGCHLD:
        # Linux reaps at once when the parent ignores SIGCHLD (or SA_NOCLDWAIT).
        tg.reaped = True
        if tg in parent.children:
            parent.children.remove(tg)
        kernel.thread_groups.pop(tg.pid, None)
        return
    if tg.exit_signal:
        from qkernel import signals
        signals.send_signal(kernel, parent, tg.exit_signal, _child_info(tg))


def _child_info(tg: ThreadGroup) -> object:
    """SIGCHLD's siginfo for an exited child: who, and how it ended."""
    from qkernel.signals.consts import CLD_DUMPED, CLD_EXITED, CLD_KILLED
    from qkernel.signals.siginfo import SigInfo
    status = tg.group_exit_status or 0
    if status & 0x7F:
        code, value = (CLD_DUMPED if status & 0x80 else CLD_KILLED), status & 0x7F
    else:
        code, value = CLD_EXITED, (status >> 8) & 0xFF
    return SigInfo(signo=signal.SIGCHLD, code=code, pid=tg.pid, status=value)


def _init_died(kernel: "Kernel") -> None:
    """PID 1 is gone: every other process of the container dies with it."""
    for other in list(kernel.thread_groups.values()):
        if other is not kernel.init_tg and not other.zombie:
            kernel.kill_group(other, signal.SIGKILL)
    callback = getattr(kernel, "on_init_exit", None)
    if callback is not None:
        callback()
