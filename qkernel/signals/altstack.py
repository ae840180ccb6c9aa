"""sigaltstack state: `task.sigaltstack` = (ss_sp, ss_flags, ss_size).

ss_flags holds what the caller passed (Linux's sas_ss_flags: SS_DISABLE, or
the mode plus SS_AUTODISARM); frames save it raw in uc_stack. Whether the
task is *on* the stack is computed from the stack pointer each time.
"""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.signals.consts import MINSIGSTKSZ, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK
from qkernel.signals.frame import altstack_flags, on_altstack


def get_altstack(task: Any, sp: int) -> tuple[int, int, int]:
    """What sigaltstack reports as the old stack: (ss_sp, ss_flags, ss_size)."""
    ss_sp, flags, size = task.sigaltstack
    return ss_sp, altstack_flags(task, sp) | (flags & SS_AUTODISARM), size


def set_altstack(task: Any, sp: int, ss_sp: int, ss_flags: int, ss_size: int) -> None:
    """Linux's do_sigaltstack for a new stack; `sp` is the caller's rsp."""
    if on_altstack(task, sp):
        raise SyscallError(errno.EPERM)        # cannot change the stack it runs on
    ss_flags &= 0xFFFFFFFF
    mode = ss_flags & ~SS_AUTODISARM
    if mode not in (SS_DISABLE, SS_ONSTACK, 0):
        raise SyscallError(errno.EINVAL)
    if mode == SS_DISABLE:
        task.sigaltstack = (0, SS_DISABLE, 0)
        return
    if ss_size < MINSIGSTKSZ:
        raise SyscallError(errno.ENOMEM)
    task.sigaltstack = (ss_sp, ss_flags, ss_size)
