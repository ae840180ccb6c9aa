"""x86-64 user-mode CPU state as QKernel sees it (independent of KVM)."""
from __future__ import annotations

from dataclasses import dataclass, fields

GPR_NAMES = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

# RFLAGS bits a user may change (Linux's FIX_EFLAGS plus ID); IF and bit 1 always set.
USER_FLAGS_MASK = 0x50DD5 | 0x200000
RFLAGS_FIXED = 0x202


def sanitize_rflags(value: int) -> int:
    return (value & USER_FLAGS_MASK) | RFLAGS_FIXED


@dataclass
class UserRegs:
    """A task's user context: what a signal frame saves and sigreturn restores."""
    rax: int = 0
    rbx: int = 0
    rcx: int = 0
    rdx: int = 0
    rsi: int = 0
    rdi: int = 0
    rsp: int = 0
    rbp: int = 0
    r8: int = 0
    r9: int = 0
    r10: int = 0
    r11: int = 0
    r12: int = 0
    r13: int = 0
    r14: int = 0
    r15: int = 0
    rip: int = 0
    rflags: int = RFLAGS_FIXED
    fs_base: int = 0
    gs_base: int = 0

    def copy(self) -> "UserRegs":
        return UserRegs(**{f.name: getattr(self, f.name) for f in fields(self)})
