"""Signals: queueing, masks, delivery on return to user mode, sigreturn.

Modules: consts (numbers, flags, default actions), siginfo (SigInfo and its
guest layout), queue (pending state, send_signal, force_signal), frame (the
rt_sigframe), fpstate (FPU state in the frame), altstack (sigaltstack),
deliver (deliver_signals, rt_sigreturn). The syscalls are in
qkernel/syscalls/signal.py.

Everything here runs with the kernel lock held.
"""
from __future__ import annotations

from qkernel.kernel import ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS
from qkernel.signals.deliver import deliver_signals, sigreturn
from qkernel.signals.queue import force_signal, has_deliverable, send_signal
from qkernel.signals.siginfo import SigInfo

RESTARTS = (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK)

__all__ = ["ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ERESTART_RESTARTBLOCK",
           "RESTARTS", "SigInfo", "deliver_signals", "force_signal", "has_deliverable",
           "send_signal", "sigreturn"]
