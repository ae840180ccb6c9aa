"""Pending signals: sending, coalescing, choosing a thread, dequeuing.

State (all guarded by the kernel lock):
- `task.pending` / `task.tg.shared_pending`: signo -> [SigInfo, ...] for
  thread- and process-directed signals. A standard signal (< SIGRTMIN) has
  at most one entry per queue; real-time signals queue every instance.
- `task.sigmask`: blocked set, bit signo-1; never holds SIGKILL/SIGSTOP.
- `task.tg.sigactions`: signo -> SignalAction, shared by the threads.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

from qkernel.signals.consts import (
    CLD_CONTINUED, IGNORE, SA_NOCLDSTOP, SI_KERNEL, SIG_DFL, SIG_IGN, SIGCHLD, SIGCONT,
    STOP_SIGNALS, TERM, default_action, is_realtime, kernel_only, sigbit,
)
from qkernel.signals.siginfo import SigInfo
from qkernel.task import SignalAction
from qkernel.threadgroup import ThreadGroup

Queue = dict[int, list[SigInfo]]
# Faults first when several are pending (Linux's SYNCHRONOUS_MASK).
_SYNCHRONOUS = sigbit(11) | sigbit(7) | sigbit(4) | sigbit(5) | sigbit(8) | sigbit(31)
_DEFAULT = SignalAction()


def action(tg: ThreadGroup, signo: int) -> SignalAction:
    return tg.sigactions.get(signo, _DEFAULT)


def action_ignores(act: SignalAction, signo: int) -> bool:
    """The disposition throws the signal away (SIG_IGN, or a default of ignore)."""
    if act.handler == SIG_IGN:
        return True
    return act.handler == SIG_DFL and default_action(signo) == IGNORE


def is_init(tg: ThreadGroup, kernel: Any) -> bool:
    """The sandbox's init: immune to default actions sent from inside."""
    init = getattr(kernel, "init_tg", None)
    return tg is init if init is not None else tg.pid == 1


def init_protected(kernel: Any, tg: ThreadGroup, signo: int, info: SigInfo) -> bool:
    """Init ignores signals whose action would be the default, as the init
    of a pid namespace does (Linux's SIGNAL_UNKILLABLE): except a fault, and
    SIGKILL/SIGSTOP from outside the sandbox (the host's `kill`)."""
    if not is_init(tg, kernel) or info.forced:
        return False
    return not (info.kernel_sent and kernel_only(signo))


def queues(task: Any) -> Iterator[Queue]:
    """Thread-directed first, then process-directed: the dequeue order."""
    yield task.pending
    yield task.tg.shared_pending


def _deliverable_in(queue: Queue, mask: int) -> list[int]:
    return [s for s, infos in queue.items() if infos and not mask & sigbit(s)]


def has_deliverable(task: Any) -> bool:
    """A signal is pending for `task` that it does not block."""
    mask = task.sigmask
    return any(_deliverable_in(q, mask) for q in queues(task))


def pending_set(task: Any) -> int:
    bits = 0
    for q in queues(task):
        for s, infos in q.items():
            if infos:
                bits |= sigbit(s)
    return bits


def dequeue(task: Any, mask: int) -> tuple[int, SigInfo] | None:
    """Take the next signal not in `mask`: thread queue before the process
    queue; in a queue faults first, then the lowest number (so standard
    signals before real-time ones, and RT in number order)."""
    for q in queues(task):
        ready = _deliverable_in(q, mask)
        if not ready:
            continue
        sync = [s for s in ready if sigbit(s) & _SYNCHRONOUS]
        signo = min(sync or ready)
        infos = q[signo]
        info = infos.pop(0)
        if not infos:
            del q[signo]
        return signo, info
    return None


def discard(tg: ThreadGroup, signos: tuple[int, ...] | list[int]) -> None:
    """Drop pending instances of `signos` from the process and every thread."""
    for q in [tg.shared_pending] + [t.pending for t in tg.tasks.values()]:
        for s in signos:
            q.pop(s, None)


def _wants(t: Any, signo: int) -> bool:
    return not t.exited and not t.sigmask & sigbit(signo)


def _pick_thread(tg: ThreadGroup, signo: int) -> Any:
    """Who takes a process-directed signal: the leader if it does not block
    it, else the first thread that does not (Linux's complete_signal)."""
    leader = tg.leader
    if leader is not None and _wants(leader, signo):
        return leader
    for t in tg.tasks.values():
        if _wants(t, signo):
            return t
    return None


def _ignored_at_send(kernel: Any, tg: ThreadGroup, t: Any, signo: int, info: SigInfo) -> bool:
    """Linux's sig_ignored: a blocked signal is always kept (the handler may
    change before it is unblocked); else it is dropped if its disposition
    ignores it, or if it would take a default action on init."""
    if t is not None and t.sigmask & sigbit(signo):
        return False
    act = action(tg, signo)
    if act.handler == SIG_DFL and init_protected(kernel, tg, signo, info):
        return True
    return action_ignores(act, signo)


def send_signal(kernel: Any, target: Any, signo: int, info: SigInfo | None = None) -> bool:
    """Queue `signo` for a thread group (process-directed) or a Task
    (thread-directed), wake the thread that should take it and kick its vCPU.
    Returns False when the signal was discarded. Lock held."""
    if isinstance(target, ThreadGroup):
        tg, task = target, None
    else:
        tg, task = target.tg, target
    if tg.exiting or tg.zombie:
        return False
    if info is None:
        info = SigInfo(signo=signo, code=SI_KERNEL, kernel_sent=True)
    _prepare(kernel, tg, signo)
    probe = task if task is not None else (tg.leader or next(iter(tg.tasks.values()), None))
    if _ignored_at_send(kernel, tg, probe, signo, info):
        return False
    queue = task.pending if task is not None else tg.shared_pending
    if not is_realtime(signo) and queue.get(signo):
        return True                           # standard signals coalesce
    queue.setdefault(signo, []).append(info)
    _complete(kernel, tg, task, signo, info)
    return True


def _prepare(kernel: Any, tg: ThreadGroup, signo: int) -> None:
    """Job control at send time (Linux's prepare_signal): a stop signal
    cancels a pending SIGCONT; SIGCONT cancels pending stops and resumes a
    stopped group whatever its disposition."""
    if signo in STOP_SIGNALS:
        discard(tg, [SIGCONT])
    elif signo == SIGCONT:
        discard(tg, list(STOP_SIGNALS))
        if tg.stopped:
            tg.stopped = False
            tg.wait_events.append(("continued", SIGCONT))
            notify_parent_cldstop(kernel, tg, CLD_CONTINUED, SIGCONT)
            kernel.notify()


def _complete(kernel: Any, tg: ThreadGroup, task: Any, signo: int, info: SigInfo) -> None:
    """Wake a taker. A signal whose default is to terminate kills the group
    at once (Linux's fatal fast path), so even a stopped or sleeping
    process dies without having to run first."""
    t = task if task is not None else _pick_thread(tg, signo)
    blocked = t.extra.get("real_blocked", t.sigmask) if t is not None else 0
    if t is not None and not blocked & sigbit(signo):
        act = action(tg, signo)
        if (act.handler == SIG_DFL and default_action(signo) == TERM
                and not init_protected(kernel, tg, signo, info)):
            kernel.kill_group(tg, signo)
            return
    kernel.notify()
    if t is not None and t.cpu is not None:
        t.cpu.kick()


def notify_parent_cldstop(kernel: Any, tg: ThreadGroup, why: int, signo: int) -> None:
    """Tell the parent its child stopped or continued: SIGCHLD unless the
    parent ignores it or asked SA_NOCLDSTOP; wake its wait4 either way."""
    parent = tg.parent
    if parent is None or parent.exiting or parent.zombie:
        return
    act = action(parent, SIGCHLD)
    if act.handler != SIG_IGN and not act.flags & SA_NOCLDSTOP:
        leader = tg.leader or next(iter(tg.tasks.values()), None)
        uid = leader.creds.uid if leader is not None else 0
        send_signal(kernel, parent, SIGCHLD,
                    SigInfo(signo=SIGCHLD, code=why, pid=tg.pid, uid=uid, status=signo))
    kernel.notify()


def force_signal(kernel: Any, task: Any, signo: int, code: int = SI_KERNEL, addr: int = 0,
                 trapno: int = 0, err: int = 0) -> None:
    """A synchronous fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) for
    `task` itself: a blocked or ignored signal cannot be taken, so, as
    Linux's force_sig_info, its disposition goes back to SIG_DFL and it is
    unblocked: the task then dies instead of looping on the fault."""
    act = action(task.tg, signo)
    blocked = bool(task.sigmask & sigbit(signo))
    if blocked or act.handler == SIG_IGN:
        task.tg.sigactions[signo] = replace(act, handler=SIG_DFL)
        task.sigmask &= ~sigbit(signo)
    info = SigInfo(signo=signo, code=code, addr=addr, trapno=trapno, err=err, forced=True)
    if not task.pending.get(signo) or is_realtime(signo):
        task.pending.setdefault(signo, []).append(info)
    kernel.notify()


def flush_ignored(tg: ThreadGroup, signo: int) -> None:
    """sigaction made `signo` ignored: pending instances go (POSIX)."""
    if not kernel_only(signo) and action_ignores(action(tg, signo), signo):
        discard(tg, [signo])


__all__ = ["action", "action_ignores", "dequeue", "discard", "flush_ignored", "force_signal",
           "has_deliverable", "init_protected", "is_init", "notify_parent_cldstop", "pending_set", "send_signal"]
