"""The x86-64 rt_sigframe a handler runs on, and reading it back at sigreturn.

Layout (arch/x86/include/asm/sigframe.h, 64-bit):
    frame+0    pretcode   (u64: sa_restorer; the handler's return address)
    frame+8    ucontext   (uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask)
    frame+312  siginfo    (128 bytes)
    ...        fpstate    (64-byte aligned, above the frame; pointed to by
                           uc_mcontext.fpstate)
Placement (Linux's get_sigframe): below the 128-byte red zone, or at the top
of the alternate stack; fpstate first, then the frame, aligned so that
(frame + 8) % 16 == 0, as if the handler had just been `call`ed.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from generated.structs import ucontext
from qkernel.arch import UserRegs
from qkernel.signals.consts import SS_AUTODISARM, SS_DISABLE, SS_ONSTACK
from qkernel.signals.siginfo import SIGINFO_SIZE

UCONTEXT_OFF = 8
UCONTEXT_SIZE = ctypes.sizeof(ucontext)            # 304
SIGINFO_OFF = UCONTEXT_OFF + UCONTEXT_SIZE         # 312
FRAME_SIZE = SIGINFO_OFF + SIGINFO_SIZE            # 440
REDZONE = 128
USER_CS, USER_DS = 0x33, 0x2B
UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x1, 0x2, 0x4
_MCONTEXT_REGS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi",
                  "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip")


# ---- the alternate stack ---------------------------------------------------

def on_altstack(task: object, sp: int) -> bool:
    """Linux's on_sig_stack: sp within (ss_sp, ss_sp + size]. With
    SS_AUTODISARM the stack is never 'in use' (it is disarmed while used)."""
    ss_sp, flags, size = task.sigaltstack                    # type: ignore[attr-defined]
    if flags & SS_AUTODISARM:
        return False
    return size != 0 and ss_sp < sp and sp - ss_sp <= size


def altstack_flags(task: object, sp: int) -> int:
    """sas_ss_flags: SS_DISABLE without a stack, SS_ONSTACK while on it, else 0."""
    if task.sigaltstack[2] == 0:                             # type: ignore[attr-defined]
        return SS_DISABLE
    return SS_ONSTACK if on_altstack(task, sp) else 0


# ---- the frame -------------------------------------------------------------

@dataclass
class FramePlan:
    frame: int          # where pretcode goes: the handler's rsp
    fpstate: int        # 64-byte aligned FPU area above it


def plan_frame(task: object, sp: int, onstack: bool, fp_size: int) -> FramePlan | None:
    """Where the frame goes; None when it would overflow the alternate stack
    (Linux returns a bogus address there, so the task gets SIGSEGV)."""
    nested = on_altstack(task, sp)
    sp -= REDZONE
    entering = False
    if onstack and altstack_flags(task, sp) == 0:
        ss_sp, _flags, size = task.sigaltstack               # type: ignore[attr-defined]
        sp = ss_sp + size
        entering = True
    fpstate = (sp - fp_size) & ~63
    frame = ((fpstate - FRAME_SIZE) & ~15) - 8
    if (nested or entering) and not _within_altstack(task, frame):
        return None
    if frame < 0:
        return None
    return FramePlan(frame, fpstate)


def _within_altstack(task: object, sp: int) -> bool:
    ss_sp, _flags, size = task.sigaltstack                   # type: ignore[attr-defined]
    return ss_sp < sp and sp - ss_sp <= size


def build_ucontext(regs: UserRegs, saved_mask: int, altstack: tuple[int, int, int],
                   fpstate: int, trapno: int = 0, err: int = 0, cr2: int = 0) -> bytes:
    uc = ucontext()
    uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    uc.uc_link = 0
    ss_sp, ss_flags, ss_size = altstack
    uc.uc_stack.ss_sp = ss_sp
    uc.uc_stack.ss_flags = _s32(ss_flags)
    uc.uc_stack.ss_size = ss_size
    mc = uc.uc_mcontext
    for name in _MCONTEXT_REGS:
        setattr(mc, name, getattr(regs, name) & (1 << 64) - 1)
    mc.eflags = regs.rflags
    mc.cs, mc.gs, mc.fs, mc.ss = USER_CS, 0, 0, USER_DS
    mc.err, mc.trapno, mc.cr2 = err, trapno, cr2
    mc.oldmask = saved_mask
    mc.fpstate = fpstate
    uc.uc_sigmask = saved_mask
    return bytes(uc)


def parse_ucontext(data: bytes) -> ucontext:
    return ucontext.from_buffer_copy(data)


def regs_from_mcontext(uc: ucontext, current: UserRegs) -> UserRegs:
    """The registers sigreturn restores; fs/gs bases are not in the frame."""
    regs = current.copy()
    mc = uc.uc_mcontext
    for name in _MCONTEXT_REGS:
        setattr(regs, name, getattr(mc, name))
    regs.rflags = mc.eflags
    return regs


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
