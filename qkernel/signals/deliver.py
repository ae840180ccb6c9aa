"""Taking signals on the way back to user mode, and rt_sigreturn.

`deliver_signals` runs on the task's own thread with the kernel lock held,
each time the task is about to resume guest code. Like Linux's
exit_to_user_mode loop, it keeps taking signals until none is deliverable:
default actions happen here (kill, stop, ignore), and each caught signal gets
a frame on top of the previous one, so the last one set up runs first.
"""
from __future__ import annotations

import errno
from dataclasses import replace
from typing import Any

from qkernel.arch import UserRegs, sanitize_rflags
from qkernel.errors import SyscallError
from qkernel.kernel import (
    ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, TaskExit,
)
from qkernel.signals import fpstate
from qkernel.signals.consts import (
    CLD_STOPPED, CORE, IGNORE, MASK64, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART,
    SA_RESTORER, SA_SIGINFO, SIG_DFL, SIG_IGN, SIGSEGV, SS_AUTODISARM, SS_DISABLE, STOP,
    UNBLOCKABLE, default_action, kernel_only, sigbit,
)
from qkernel.signals.frame import (
    SIGINFO_OFF, UCONTEXT_OFF, UCONTEXT_SIZE, build_ucontext, parse_ucontext,
    plan_frame, regs_from_mcontext,
)
from qkernel.signals.queue import (
    action, dequeue, force_signal, init_protected, notify_parent_cldstop,
)
from qkernel.signals.siginfo import SigInfo
from qkernel.task import SignalAction

NR_RT_SIGRETURN = 15
RLIMIT_CORE = 4
_RESTART_ALL = (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK)
_U64 = (1 << 64) - 1


def _syscall_error(regs: UserRegs) -> int:
    """The positive ERESTART* code in rax, or 0."""
    value = regs.rax & _U64
    err = (1 << 64) - value if value >= (1 << 64) - 4095 else 0
    return err if err in _RESTART_ALL else 0


def _restart(regs: UserRegs, nr: int) -> None:
    regs.rax = nr
    regs.rip -= 2                              # back onto the 2-byte `syscall`


def _eintr(regs: UserRegs) -> None:
    regs.rax = -errno.EINTR & _U64


def deliver_signals(task: Any, regs: UserRegs, syscall_nr: int | None) -> UserRegs:
    """Returns the context to resume: `regs` itself, a restarted syscall, or
    a handler's frame. Raises TaskExit for a fatal default action."""
    if syscall_nr == NR_RT_SIGRETURN:
        syscall_nr = None                      # rax is the restored context's, not a result
    handled = False
    while True:
        if task.tg.exiting:
            raise TaskExit(task.tg.group_exit_status or 9)
        if task.tg.stopped:
            _wait_while_stopped(task)
            continue
        item = dequeue(task, task.sigmask)
        if item is None:
            break
        signo, info = item
        act = action(task.tg, signo)
        if act.handler == SIG_IGN:
            continue
        if act.handler == SIG_DFL:
            _default_action(task, signo, info)
            continue
        if syscall_nr is not None:
            err = _syscall_error(regs)
            if err == ERESTARTNOINTR or (err == ERESTARTSYS and act.flags & SA_RESTART):
                _restart(regs, syscall_nr)
            elif err:
                _eintr(regs)
            syscall_nr = None
        new_regs = _setup_frame(task, regs, signo, info, act)
        if new_regs is None:                   # the frame could not be written
            _frame_failed(task, signo)
            continue
        regs = new_regs
        handled = True
    if syscall_nr is not None:
        err = _syscall_error(regs)
        if err in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND):
            _restart(regs, syscall_nr)
        elif err == ERESTART_RESTARTBLOCK:
            # Simplification: Linux re-enters through restart_syscall(2)
            # with the remaining time; quark reports the interruption.
            _eintr(regs)
    if not handled and task.saved_sigmask is not None:
        # sigsuspend & co. ended without a handler: their mask goes back now.
        task.sigmask = task.saved_sigmask
        task.saved_sigmask = None
    return regs


def _default_action(task: Any, signo: int, info: SigInfo) -> None:
    kernel = task.kernel
    if init_protected(kernel, task.tg, signo, info) and not kernel_only(signo):
        return       # init is immune to default actions (SIGKILL/SIGSTOP got here from outside)
    kind = default_action(signo)
    if kind == IGNORE:
        return
    if kind == STOP:
        _group_stop(task, signo)
        return
    # Linux sets the core flag only when it wrote a dump; quark writes none,
    # so report one only where the core limit would have allowed it.
    core = kind == CORE and task.limits.get(RLIMIT_CORE)[0] != 0
    kernel.kill_by_signal(task, signo, core=core)


def _group_stop(task: Any, signo: int) -> None:
    kernel = task.kernel
    tg = task.tg
    tg.stopped = True
    tg.wait_events.append(("stopped", signo))
    notify_parent_cldstop(kernel, tg, CLD_STOPPED, signo)
    for t in tg.tasks.values():                # the other threads stop at their next return
        if t is not task and t.cpu is not None:
            t.cpu.kick()
    kernel.notify()
    _wait_while_stopped(task)


def _wait_while_stopped(task: Any) -> None:
    """Sleep until SIGCONT; SIGKILL ends the wait through tg.exiting."""
    task.kernel.wait_until(task, lambda: not task.tg.stopped, interruptible=False)


def _frame_failed(task: Any, signo: int) -> None:
    """Linux's force_sigsegv: a task whose frame cannot be written gets
    SIGSEGV, with the default action if SIGSEGV itself was being delivered."""
    if signo == SIGSEGV:
        task.tg.sigactions[SIGSEGV] = replace(action(task.tg, SIGSEGV), handler=SIG_DFL)
    force_signal(task.kernel, task, SIGSEGV)


def _user_xfeatures(task: Any) -> int:
    return fpstate.user_xfeatures(task.kernel)


def _setup_frame(task: Any, regs: UserRegs, signo: int, info: SigInfo,
                 act: SignalAction) -> UserRegs | None:
    """Write the rt_sigframe and return the handler's registers; None when
    it cannot be done (bad stack, no restorer)."""
    if not act.flags & SA_RESTORER:
        return None                             # x86-64 has no kernel-provided trampoline
    xfeatures = _user_xfeatures(task)
    plan = plan_frame(task, regs.rsp, bool(act.flags & SA_ONSTACK),
                      fpstate.frame_size(xfeatures))
    if plan is None:
        return None
    saved_mask = task.saved_sigmask if task.saved_sigmask is not None else task.sigmask
    xsave = task.cpu.get_xsave() if task.cpu is not None else None
    fault = info.code > 0 and info.forced
    uc = build_ucontext(regs, saved_mask, task.sigaltstack, plan.fpstate,
                        trapno=info.trapno if fault else 0, err=info.err if fault else 0,
                        cr2=info.addr if fault else 0)
    head = act.restorer.to_bytes(8, "little") + uc
    if act.flags & SA_SIGINFO:
        head += info.pack()
    try:
        task.mm.copy_out(plan.fpstate, fpstate.to_frame(xsave, xfeatures))
        task.mm.copy_out(plan.frame, head)
    except SyscallError:
        return None
    if task.sigaltstack[1] & SS_AUTODISARM:
        task.sigaltstack = (0, SS_DISABLE, 0)   # saved in the frame, back at sigreturn
    task.saved_sigmask = None
    mask = task.sigmask | act.mask
    if not act.flags & SA_NODEFER:
        mask |= sigbit(signo)
    task.sigmask = mask & ~UNBLOCKABLE & MASK64
    if act.flags & SA_RESETHAND:
        # Only the handler resets (Linux keeps sa_flags and sa_mask).
        task.tg.sigactions[signo] = replace(act, handler=SIG_DFL)
    if task.cpu is not None:
        # The handler starts with a clean FPU (Linux: fpu__clear_user_states).
        task.cpu.set_xsave(fpstate.handler_area(xsave))
    new = regs.copy()
    new.rip = act.handler
    new.rsp = plan.frame
    new.rdi = signo
    new.rsi = plan.frame + SIGINFO_OFF
    new.rdx = plan.frame + UCONTEXT_OFF
    new.rax = 0
    new.rflags = regs.rflags & ~(0x100 | 0x400)     # TF, DF (the ABI wants DF clear)
    return new


def sigreturn(task: Any) -> int:
    """rt_sigreturn: restore the context the frame at rsp-8 saved. A bad
    frame kills with SIGSEGV, as Linux does."""
    if task.cpu is None:
        raise SyscallError(errno.ENOSYS)
    current = task.cpu.user_regs()
    frame = current.rsp - 8                    # the handler's `ret` popped pretcode
    try:
        uc = parse_ucontext(task.mm.copy_in(frame + UCONTEXT_OFF, UCONTEXT_SIZE))
        regs = regs_from_mcontext(uc, current)
        fp = uc.uc_mcontext.fpstate
        xsave = (fpstate.from_frame(task.mm, fp, task.cpu.get_xsave(), _user_xfeatures(task))
                 if fp else bytes(fpstate.init_area()))
    except SyscallError:
        force_signal(task.kernel, task, SIGSEGV)
        return current.rax
    regs.rflags = sanitize_rflags(regs.rflags)
    task.sigmask = uc.uc_sigmask & ~UNBLOCKABLE & MASK64
    _restore_altstack(task, current.rsp, uc.uc_stack.ss_sp, uc.uc_stack.ss_flags,
                      uc.uc_stack.ss_size)
    task.cpu.set_xsave(xsave)
    task.cpu.set_user_regs(regs)
    rax = regs.rax & _U64
    return rax - (1 << 64) if rax >> 63 else rax


def _restore_altstack(task: Any, sp: int, ss_sp: int, ss_flags: int, ss_size: int) -> None:
    """sigaltstack(uc_stack) with errors squashed, as Linux's restore_altstack."""
    from qkernel.signals.altstack import set_altstack
    try:
        set_altstack(task, sp, ss_sp, ss_flags, ss_size)
    except SyscallError:
        pass
