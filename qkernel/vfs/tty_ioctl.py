"""ioctls on a guest tty (man 2 ioctl_tty).

Two kinds:
- device ioctls (termios, window size, flushing, breaks, queue sizes) go
  to the host tty unchanged: the host line discipline is the one that
  acts on them. Those that change the terminal first pass the
  job-control check (a background caller gets SIGTTOU), as in Linux.
- job-control ioctls (foreground group, session, controlling terminal,
  exclusive mode) are answered from the guest-side Terminal: the host's
  process groups mean nothing to the guest.

Anything else is ENOTTY; TIOCSTI is refused (EIO, as Linux with
dev.tty.legacy_tiocsti=0): it would push input into the host terminal.
FIONBIO, FIONREAD (= TIOCINQ) and FIOCLEX/FIONCLEX are served for every
file by sys_ioctl before a file's ioctl is asked.
"""
from __future__ import annotations

import errno
import fcntl
from typing import Any, Callable

from qkernel.errors import MustExit, SyscallError
from qkernel.signals.consts import SIGTTOU
from qkernel.vfs import abi
from qkernel.vfs.terminal import Terminal

TERMIOS2_SIZE = 44
TERMIO_SIZE = 18
N_TTY = 0

# Read a struct from the host: cmd -> size.
_GET = {abi.TCGETS: abi.TERMIOS_SIZE, abi.TCGETS2: TERMIOS2_SIZE, abi.TCGETA: TERMIO_SIZE,
        abi.TIOCGWINSZ: abi.WINSIZE_SIZE, abi.TIOCOUTQ: 4, abi.TIOCGETD: 4}
# Write a struct to the host after the job-control check: cmd -> size.
_SET = {abi.TCSETS: abi.TERMIOS_SIZE, abi.TCSETSW: abi.TERMIOS_SIZE, abi.TCSETSF: abi.TERMIOS_SIZE,
        abi.TCSETS2: TERMIOS2_SIZE, abi.TCSETSW2: TERMIOS2_SIZE, abi.TCSETSF2: TERMIOS2_SIZE,
        abi.TCSETA: TERMIO_SIZE, abi.TCSETAW: TERMIO_SIZE, abi.TCSETAF: TERMIO_SIZE}
# An int argument passed by value, after the job-control check.
_VALUE = (abi.TCFLSH, abi.TCXONC, abi.TCSBRK, abi.TCSBRKP)
_NO_ARG = (abi.TIOCSBRK, abi.TIOCCBRK)
# These wait for the output to drain, which may take as long as the reader
# of the host side likes: never on the QCall poller, never holding the lock.
_DRAINS = {abi.TCSETSW, abi.TCSETSF, abi.TCSETSW2, abi.TCSETSF2, abi.TCSETAW, abi.TCSETAF,
           abi.TCSBRK, abi.TCSBRKP}

Check = Callable[[int], None]


def _host(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise SyscallError(e.errno or errno.EIO) from None


def host_ioctl(task: Any, fd: int, cmd: int, arg: int, check: Check | None = None) -> int:
    """A device ioctl, served by the host tty `fd`. `check(SIGTTOU)` is the
    job-control check for changes (None: the tty controls nobody here)."""
    if cmd in _GET:
        task.mm.copy_out(arg, _host(fcntl.ioctl, fd, cmd, bytes(_GET[cmd])))
        return 0
    if cmd == abi.TIOCSWINSZ:                  # no job-control check in Linux either
        _host(fcntl.ioctl, fd, cmd, task.mm.copy_in(arg, abi.WINSIZE_SIZE))
        return 0
    if cmd == abi.TIOCSETD:
        disc = _s32(task.mm.read_u32(arg))
        if check is not None:
            check(SIGTTOU)
        if disc != N_TTY:
            raise SyscallError(errno.EINVAL)   # no other line discipline is served
        return 0
    if cmd not in _SET and cmd not in _VALUE and cmd not in _NO_ARG:
        raise SyscallError(errno.ENOTTY)
    if cmd in _DRAINS and task.kernel.in_poller():
        raise MustExit()
    if check is not None:
        check(SIGTTOU)
    if cmd in _SET:
        data = task.mm.copy_in(arg, _SET[cmd])
        call: tuple[Any, ...] = (fd, cmd, data)
    elif cmd in _VALUE:
        call = (fd, cmd, _s32(arg))
    else:
        call = (fd, cmd, 0)
    if cmd in _DRAINS:
        with task.kernel.unlocked():
            _host(fcntl.ioctl, *call)
    else:
        _host(fcntl.ioctl, *call)
    return 0


def terminal_ioctl(task: Any, file: Any, term: Terminal, cmd: int, arg: int) -> int:
    """An ioctl on a file open on the guest terminal `term`."""
    tg = task.tg
    if cmd == abi.TIOCGPGRP:
        if tg.ctty is not term:
            raise SyscallError(errno.ENOTTY)
        task.mm.write_u32(arg, term.pgrp or 0)
        return 0
    if cmd == abi.TIOCSPGRP:
        try:
            term.check_access(task, SIGTTOU)
        except SyscallError as e:
            if e.errno == errno.EIO:          # Linux reports an orphaned caller so
                raise SyscallError(errno.ENOTTY) from None
            raise
        term.set_foreground(task, _s32(task.mm.read_u32(arg)))
        return 0
    if cmd == abi.TIOCGSID:
        if tg.ctty is not term or term.session is None:
            raise SyscallError(errno.ENOTTY)
        task.mm.write_u32(arg, term.session)
        return 0
    if cmd == abi.TIOCSCTTY:
        return _set_ctty(task, file, term, _s32(arg))
    if cmd == abi.TIOCNOTTY:
        return _give_up(task, term)
    if cmd in (abi.TIOCEXCL, abi.TIOCNXCL):
        term.exclusive = cmd == abi.TIOCEXCL
        return 0
    if cmd == abi.TIOCGEXCL:
        task.mm.write_u32(arg, int(term.exclusive))
        return 0
    if cmd == abi.TIOCGDEV:
        task.mm.write_u32(arg, term.tty_nr)
        return 0
    if cmd == abi.TIOCSTI:
        raise SyscallError(errno.EIO)
    return host_ioctl(task, file.fd, cmd, arg, lambda sig: term.check_access(task, sig))


def _set_ctty(task: Any, file: Any, term: Terminal, arg: int) -> int:
    """TIOCSCTTY: a session leader without a terminal takes this one; one
    that controls another session only by a privileged steal (arg 1)."""
    tg = task.tg
    if tg.sid == tg.pid and term.session == tg.sid:
        return 0                               # already ours
    term.may_take(task, steal=arg == 1)
    if not file.readable and task.creds.euid != 0:
        raise SyscallError(errno.EPERM)        # write-only access must not grant job control
    if term.session is not None:
        term.release_session(task.kernel)      # stolen: the old session loses it
    term.attach(tg)
    return 0


def _give_up(task: Any, term: Terminal) -> int:
    """TIOCNOTTY: the caller drops its controlling terminal; a session
    leader drops it for its whole session (SIGHUP + SIGCONT to the
    foreground group)."""
    tg = task.tg
    if tg.ctty is not term:
        raise SyscallError(errno.ENOTTY)
    if tg.sid != tg.pid:
        tg.ctty = None
        return 0
    if task.kernel.in_poller():
        raise MustExit()                       # the leader may be in the foreground group
    term.disassociate(task.kernel, on_exit=False)
    return 0


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v
