"""Signal syscalls: dispositions, masks, waiting for signals, sending them,
the alternate stack and rt_sigreturn. The machinery is qkernel/signals/.

Sending to oneself from the QCall poller: the poller returns straight to the
guest, so nothing would deliver the signal before the call returns (POSIX
wants an unblocked signal sent to oneself delivered by then). Such calls
raise MustExit *before* changing anything and run again on the vCPU thread,
whose return path delivers.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any, Iterable

from qkernel.errors import MustExit, SyscallError
from qkernel.kernel import ERESTARTNOHAND
from qkernel.signals import deliver as _deliver
from qkernel.signals.altstack import get_altstack, set_altstack
from qkernel.signals.consts import (
    MASK64, NSIG, SA_EXPOSE_TAGBITS, SI_TKILL, SI_USER, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK,
    SIGCONT, UNBLOCKABLE, kernel_only, sigbit, valid_signal,
)
from qkernel.signals.queue import (
    _pick_thread, dequeue, flush_ignored, has_deliverable, pending_set, send_signal,
)
from qkernel.signals.siginfo import SIGINFO_SIZE, SigInfo
from qkernel.task import SignalAction
from qkernel.threadgroup import ThreadGroup

SIGSET_SIZE = 8
SIGACTION = struct.Struct("<QQQQ")        # the kernel's struct sigaction on x86-64
STACK_T = struct.Struct("<QiiQ")          # ss_sp, ss_flags, pad, ss_size
TIMESPEC = struct.Struct("<qq")
INT_MIN = -(1 << 31)
# Flags sigaction keeps; unknown bits read back as 0 so programs can probe.
UAPI_SA_FLAGS = (0x1 | 0x2 | 0x4 | 0x04000000 | 0x08000000 | 0x10000000 | 0x40000000
                 | 0x80000000 | SA_EXPOSE_TAGBITS)


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _user_sp(task: Any) -> int:
    return task.cpu.user_regs().rsp if task.cpu is not None else 0


# ---------------------------------------------------------------- dispositions and masks

def sys_rt_sigaction(task: Any, sig: int, act: int, oact: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    new = None
    if act:
        handler, flags, restorer, mask = SIGACTION.unpack(task.mm.copy_in(act, SIGACTION.size))
        new = SignalAction(handler, flags & UAPI_SA_FLAGS, restorer, mask & ~UNBLOCKABLE)
    if not valid_signal(sig) or (new is not None and kernel_only(sig)):
        raise SyscallError(errno.EINVAL)
    old = task.tg.sigactions.get(sig, SignalAction())
    if new is not None:
        task.tg.sigactions[sig] = new
        flush_ignored(task.tg, sig)
    if oact:
        task.mm.copy_out(oact, SIGACTION.pack(old.handler, old.flags, old.restorer, old.mask))
    return 0


def sys_rt_sigprocmask(task: Any, how: int, nset: int, oset: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    old = task.sigmask
    new = old
    if nset:
        given = task.mm.read_u64(nset) & ~UNBLOCKABLE
        how = _s32(how)
        if how == SIG_BLOCK:
            new = old | given
        elif how == SIG_UNBLOCK:
            new = old & ~given & MASK64
        elif how == SIG_SETMASK:
            new = given
        else:
            raise SyscallError(errno.EINVAL)
    if oset:
        task.mm.write_u64(oset, old)       # EFAULT before the mask changes, as Linux
    if new != old:
        _set_mask(task, new)
    return 0


def _set_mask(task: Any, new: int) -> None:
    """Change the blocked set. Unblocking a pending signal must deliver it
    before the call returns (vCPU thread); blocking one that was aimed at
    the process hands it to another thread (Linux's retarget_shared_pending)."""
    pending = pending_set(task)
    unblocked = task.sigmask & ~new & pending
    if unblocked and task.kernel.in_poller():
        raise MustExit()
    newly_blocked = new & ~task.sigmask
    task.sigmask = new & MASK64
    for signo, infos in task.tg.shared_pending.items():
        if infos and newly_blocked & sigbit(signo):
            t = _pick_thread(task.tg, signo)
            if t is not None and t.cpu is not None:
                t.cpu.kick()
    task.kernel.notify()


def sys_rt_sigpending(task: Any, uset: int, sigsetsize: int) -> int:
    if sigsetsize > SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    bits = pending_set(task) & task.sigmask
    task.mm.copy_out(uset, bits.to_bytes(8, "little")[:sigsetsize])
    return 0


# ---------------------------------------------------------------- waiting for signals

def _wait_for_signal(task: Any) -> None:
    try:
        task.kernel.wait_until(task, lambda: has_deliverable(task))
    except SyscallError:
        pass                                # ERESTARTSYS: what we were waiting for


def sys_pause(task: Any) -> int:
    if task.kernel.in_poller():
        raise MustExit()
    _wait_for_signal(task)
    raise SyscallError(ERESTARTNOHAND)      # EINTR once a handler runs


def sys_rt_sigsuspend(task: Any, unewset: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    mask = task.mm.read_u64(unewset) & ~UNBLOCKABLE
    if task.kernel.in_poller():
        raise MustExit()
    # The frame saves the old mask (uc_sigmask), so sigreturn restores it;
    # without a handler deliver_signals restores it.
    task.saved_sigmask = task.sigmask
    task.sigmask = mask
    _wait_for_signal(task)
    raise SyscallError(ERESTARTNOHAND)


def _read_timeout(task: Any, uts: int) -> float | None:
    """Seconds to wait, or None for no limit."""
    if not uts:
        return None
    sec, nsec = TIMESPEC.unpack(task.mm.copy_in(uts, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise SyscallError(errno.EINVAL)
    return sec + nsec / 1e9


def sys_rt_sigtimedwait(task: Any, uthese: int, uinfo: int, uts: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    these = task.mm.read_u64(uthese) & ~UNBLOCKABLE
    timeout = _read_timeout(task, uts)
    got = dequeue(task, ~these & MASK64)
    interrupted = False
    if got is None and timeout != 0:
        if task.kernel.in_poller():
            raise MustExit()
        # Linux: the awaited signals are unblocked for the wait, so they
        # wake us (and a process-directed one may choose us).
        saved = task.sigmask
        task.sigmask = saved & ~these
        # Linux's real_blocked: a send must not take the awaited signals'
        # default (fatal) action because of this temporary unblocking.
        task.extra["real_blocked"] = saved
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            task.kernel.wait_until(task, lambda: has_deliverable(task), deadline)
        except SyscallError:
            pass
        finally:
            task.sigmask = saved
            task.extra.pop("real_blocked", None)
        got = dequeue(task, ~these & MASK64)
        interrupted = got is None and has_deliverable(task)
    if got is None:
        raise SyscallError(errno.EINTR if interrupted else errno.EAGAIN)
    signo, info = got
    if uinfo:
        task.mm.copy_out(uinfo, info.pack())
    return signo


# ---------------------------------------------------------------- the alternate stack

def sys_sigaltstack(task: Any, uss: int, uoss: int) -> int:
    sp = _user_sp(task)
    new = STACK_T.unpack(task.mm.copy_in(uss, STACK_T.size)) if uss else None
    old = get_altstack(task, sp)
    if new is not None:
        ss_sp, ss_flags, _pad, ss_size = new
        set_altstack(task, sp, ss_sp, ss_flags, ss_size)
    if uoss:
        task.mm.copy_out(uoss, STACK_T.pack(old[0], _s32(old[1]), 0, old[2]))
    return 0


def sys_rt_sigreturn(task: Any) -> int:
    return _deliver.sigreturn(task)


def sys_restart_syscall(task: Any) -> int:
    # quark never arms a restart block (ERESTART_RESTARTBLOCK becomes EINTR),
    # and with none armed Linux's restart_syscall answers EINTR.
    raise SyscallError(errno.EINTR)


# ---------------------------------------------------------------- sending

def _creds_of(tg: ThreadGroup) -> Any:
    t = tg.leader or next(iter(tg.tasks.values()), None)
    return t.creds if t is not None else None


def _may_signal(sender: Any, tg: ThreadGroup, sig: int) -> bool:
    """Linux's check_kill_permission: root, or a matching uid; SIGCONT
    within the session."""
    c = sender.creds
    if c.euid == 0:
        return True
    tc = _creds_of(tg)
    if tc is None:
        return True
    if sig == SIGCONT and tg.sid == sender.tg.sid:
        return True
    return bool({c.euid, c.uid} & {tc.uid, tc.suid})


def _check_sig(sig: int) -> None:
    if not 0 <= sig <= NSIG:
        raise SyscallError(errno.EINVAL)


def _deliver_to(task: Any, target: Any, tg: ThreadGroup, sig: int, info: SigInfo) -> None:
    """Permission, then queue (signal 0 only probes). A process already
    dying or a zombie accepts the signal and ignores it."""
    _check_sig(sig)
    if not _may_signal(task, tg, sig):
        raise SyscallError(errno.EPERM)
    if sig == 0 or tg.zombie or tg.exiting:
        return
    send_signal(task.kernel, target, sig, info)


def _must_deliver_here(task: Any, hits_self: bool, sig: int) -> None:
    """From the poller, a signal to our own thread that we do not block must
    wait for the vCPU thread (see the module docs)."""
    if hits_self and sig and task.kernel.in_poller() and not task.sigmask & sigbit(sig):
        raise MustExit()


def _groups(task: Any, pid: int) -> Iterable[ThreadGroup]:
    kernel = task.kernel
    if pid == -1:
        return [tg for tg in kernel.thread_groups.values()
                if not tg.reaped and tg.pid > 1 and tg is not task.tg]
    pgrp = task.pgid if pid == 0 else -pid
    return [tg for tg in kernel.thread_groups.values() if not tg.reaped and tg.pgid == pgrp]


def _kill_groups(task: Any, pid: int, sig: int, info: SigInfo) -> int:
    """kill(0), kill(-pgrp) and kill(-1), with Linux's error rules: a process
    group succeeds if any member took the signal; -1 reports the last error
    other than EPERM."""
    groups = list(_groups(task, pid))
    if not groups:
        raise SyscallError(errno.ESRCH)
    _must_deliver_here(task, any(tg is task.tg for tg in groups), sig)
    success, last = False, 0
    for tg in groups:
        try:
            _deliver_to(task, tg, tg, sig, info)
            success = True
            if pid != -1:
                last = 0
        except SyscallError as exc:
            if pid != -1 or exc.errno != errno.EPERM:
                last = exc.errno
    if pid == -1:
        if last:
            raise SyscallError(last)
        return 0
    if not success:
        raise SyscallError(last)
    return 0


def sys_kill(task: Any, pid: int, sig: int) -> int:
    info = SigInfo(signo=sig, code=SI_USER, pid=task.pid, uid=task.creds.uid)
    if pid > 0:
        tg = task.kernel.find_thread_group(pid)
        if tg is None:
            raise SyscallError(errno.ESRCH)
        _must_deliver_here(task, tg is task.tg, sig)
        _deliver_to(task, tg, tg, sig, info)
        return 0
    if pid == INT_MIN:
        raise SyscallError(errno.ESRCH)
    return _kill_groups(task, pid, sig, info)


def _find_thread(task: Any, tgid: int | None, tid: int) -> Any:
    t = task.kernel.tasks.get(tid)
    if t is None or t.exited or (tgid is not None and t.tg.pid != tgid):
        raise SyscallError(errno.ESRCH)
    return t


def _send_specific(task: Any, tgid: int | None, tid: int, sig: int, info: SigInfo) -> int:
    t = _find_thread(task, tgid, tid)
    _must_deliver_here(task, t is task, sig)
    _deliver_to(task, t, t.tg, sig, info)
    return 0


def sys_tkill(task: Any, pid: int, sig: int) -> int:
    if pid <= 0:
        raise SyscallError(errno.EINVAL)
    info = SigInfo(signo=sig, code=SI_TKILL, pid=task.pid, uid=task.creds.uid)
    return _send_specific(task, None, pid, sig, info)


def sys_tgkill(task: Any, tgid: int, pid: int, sig: int) -> int:
    if pid <= 0 or tgid <= 0:
        raise SyscallError(errno.EINVAL)
    info = SigInfo(signo=sig, code=SI_TKILL, pid=task.pid, uid=task.creds.uid)
    return _send_specific(task, tgid, pid, sig, info)


def _user_info(task: Any, sig: int, uinfo: int, target_id: int, own_id: int) -> SigInfo:
    info = SigInfo.from_user(sig, task.mm.copy_in(uinfo, SIGINFO_SIZE))
    # Only the kernel may claim kill()/tkill() as the source, except to oneself.
    if (info.code >= 0 or info.code == SI_TKILL) and target_id != own_id:
        raise SyscallError(errno.EPERM)
    return info


def sys_rt_sigqueueinfo(task: Any, pid: int, sig: int, uinfo: int) -> int:
    info = _user_info(task, sig, uinfo, pid, task.pid)
    tg = task.kernel.find_thread_group(pid) if pid > 0 else None
    if tg is None:
        raise SyscallError(errno.ESRCH)
    _must_deliver_here(task, tg is task.tg, sig)
    _deliver_to(task, tg, tg, sig, info)
    return 0


def sys_rt_tgsigqueueinfo(task: Any, tgid: int, pid: int, sig: int, uinfo: int) -> int:
    if pid <= 0 or tgid <= 0:
        raise SyscallError(errno.EINVAL)
    info = _user_info(task, sig, uinfo, pid, task.tid)
    return _send_specific(task, tgid, pid, sig, info)
