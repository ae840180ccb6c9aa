"""Signal numbers, sigaction flags and default actions (x86-64 Linux ABI)."""
from __future__ import annotations

NSIG = 64
SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGSTKFLT, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU = 16, 17, 18, 19, 20, 21, 22
SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO = 23, 24, 25, 26, 27, 28, 29
SIGPWR, SIGSYS = 30, 31
SIGRTMIN = 32            # the kernel's; glibc keeps 32 and 33 for itself

SIG_DFL, SIG_IGN = 0, 1

SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2

SS_ONSTACK, SS_DISABLE = 1, 2
SS_AUTODISARM = 1 << 31
MINSIGSTKSZ = 2048

# si_code values
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_MESGQ = -3
SI_ASYNCIO = -4
SI_SIGIO = -5
SI_TKILL = -6
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6
SEGV_MAPERR, SEGV_ACCERR = 1, 2
FPE_INTDIV = 1

MASK64 = (1 << 64) - 1


def sigbit(signo: int) -> int:
    """The bit of `signo` in a sigset (bit signo-1)."""
    return 1 << (signo - 1)


UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP)
STOP_SIGNALS = (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU)
STOP_MASK = sum(sigbit(s) for s in STOP_SIGNALS)
# Synchronous faults: their siginfo carries si_addr.
FAULT_SIGNALS = (SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV)

# Default actions (man 7 signal). Everything not listed terminates,
# real-time signals included.
TERM, CORE, IGNORE, STOP = "term", "core", "ignore", "stop"
_CORE = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS}
_IGNORE = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT}   # SIGCONT's continuing happens at send time


def default_action(signo: int) -> str:
    if signo in _CORE:
        return CORE
    if signo in _IGNORE:
        return IGNORE
    if signo in STOP_SIGNALS:
        return STOP
    return TERM


def valid_signal(signo: int) -> bool:
    return 1 <= signo <= NSIG


def is_realtime(signo: int) -> bool:
    """Real-time signals queue every instance; standard ones coalesce."""
    return signo >= SIGRTMIN


def kernel_only(signo: int) -> bool:
    """SIGKILL and SIGSTOP: never caught, blocked or ignored."""
    return signo in (SIGKILL, SIGSTOP)

SA_EXPOSE_TAGBITS = 0x00000800   # meaningless on x86-64 but kept, as Linux's UAPI_SA_FLAGS
