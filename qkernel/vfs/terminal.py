"""The container's terminal: a host tty the sandbox's stdio is, seen by the
guest as one tty (/dev/pts/0, also /dev/console) with Linux's job-control
state.

The host line discipline does the tty's real work (echo, canonical mode,
^C/^Z recognition) and termios/winsize ioctls are forwarded to it. What the
host cannot know about is guest-side and lives here: which guest session
the terminal controls and which guest process group is in the foreground.
The host's own idea of these is the sandbox process, which stays the
host's foreground group: the host sends it SIGINT/SIGQUIT/SIGTSTP/SIGWINCH
and Kernel.forward_host_signal hands them to `pgrp` here.

A process's controlling terminal is `ThreadGroup.ctty` (Linux's
signal->tty): inherited by fork, dropped by setsid, cleared for the whole
session when the session gives the terminal up. Rules follow
drivers/tty/tty_jobctrl.c (man 2 ioctl_tty, man 7 credentials).

Everything here runs with the kernel lock held.
"""
from __future__ import annotations

import errno
import os
import weakref
from typing import Any, Iterable

from qkernel.errors import MustExit, SyscallError
from qkernel.kernel import ERESTARTSYS
from qkernel.signals.consts import SIG_IGN, SIGCONT, SIGHUP, SIGTTIN, sigbit
from qkernel.vfs import abi

PTS_MAJOR = 136            # Unix98 pty slaves


class Terminal:
    """One guest tty backed by a host tty. Every guest file open on it
    (fds 0/1/2, /dev/tty, /dev/pts/0) shares this one state."""

    def __init__(self, host_fd: int, name: str = "/dev/pts/0", minor: int = 0) -> None:
        self.host_fd = host_fd            # our own dup: guest opens dup it again
        self.name = name                  # what /proc/<pid>/fd and ttyname show
        self.rdev = abi.makedev(PTS_MAJOR, minor)
        self.session: int | None = None   # sid of the session it controls
        self.pgrp: int | None = None      # foreground process group (guest pgid)
        self.exclusive = False            # TIOCEXCL: further opens need privilege
        self.node: Any = None             # its /dev node, once devices.add_terminal ran
        self.node_dev = 0                 # st_dev of the file system holding that node
        self.location: Any = None         # where that node is mounted (fd magic links)
        self._host_id = _tty_id(host_fd)
        self._close = weakref.finalize(self, os.close, host_fd)
        self.open_files = 0               # guest files open on it (TerminalFile)
        self.on_unused: Any = None        # called when the last one closes (see Kernel)

    @classmethod
    def from_host_fds(cls, host_fds: Iterable[int] = (0, 1, 2), minor: int = 0) -> "Terminal | None":
        """A terminal (/dev/pts/`minor`) for the first of `host_fds` that is
        a tty (None: no tty)."""
        for fd in host_fds:
            try:
                if os.isatty(fd):
                    dup = os.dup(fd)
                    os.set_inheritable(dup, False)
                    return cls(dup, f"/dev/pts/{minor}", minor)
            except OSError:
                continue
        return None

    def is_host_tty(self, fd: int) -> bool:
        """`fd` is this same host tty (another descriptor of the same device)."""
        try:
            return os.isatty(fd) and _tty_id(fd) == self._host_id
        except OSError:
            return False

    def close(self) -> None:
        self._close()

    def file_opened(self) -> None:
        self.open_files += 1

    def file_closed(self) -> None:
        self.open_files -= 1
        if self.open_files <= 0 and self.on_unused is not None:
            self.on_unused(self)

    @property
    def tty_nr(self) -> int:
        """/proc/<pid>/stat's tty_nr: the device number, new_encode_dev style."""
        major, minor = os.major(self.rdev), os.minor(self.rdev)
        return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)

    # ---- sessions ------------------------------------------------------------
    def attach(self, tg: Any) -> None:
        """Become `tg`'s controlling terminal; its group goes to the
        foreground (Linux's __proc_set_tty)."""
        self.session = tg.sid
        self.pgrp = tg.pgid
        tg.ctty = self

    def release_session(self, kernel: Any) -> None:
        """Nobody controls it any more: every process of the old session
        loses it (Linux's session_clear_tty)."""
        for tg in _groups(kernel):
            if tg.ctty is self:
                tg.ctty = None
        self.session = None
        self.pgrp = None

    def disassociate(self, kernel: Any, on_exit: bool) -> None:
        """The session leader gives the terminal up (TIOCNOTTY, or its exit):
        the foreground group gets SIGHUP, and SIGCONT unless the leader is
        exiting (a pty's rule in Linux's disassociate_ctty)."""
        if self.pgrp is not None:
            kill_pgrp(kernel, self.pgrp, SIGHUP)
            if not on_exit:
                kill_pgrp(kernel, self.pgrp, SIGCONT)
        self.release_session(kernel)

    def may_take(self, task: Any, steal: bool) -> None:
        """TIOCSCTTY's checks for a caller that does not control it yet."""
        tg = task.tg
        if tg.sid != tg.pid or tg.ctty is not None:
            raise SyscallError(errno.EPERM)      # not a leader, or it has a tty
        if self.session is not None:
            # Controlling another session: only a privileged steal (arg 1).
            if not (steal and task.creds.euid == 0):
                raise SyscallError(errno.EPERM)

    # ---- job control -----------------------------------------------------------
    def check_access(self, task: Any, sig: int) -> None:
        """Linux's __tty_check_change: a background member of the session
        this terminal controls gets `sig` (SIGTTOU for changes and writes
        with TOSTOP, SIGTTIN for reads) sent to its whole group, and the call
        restarts once the group is continued. A caller that ignores or blocks
        the signal goes ahead (a read fails with EIO); an orphaned group,
        which nobody could continue, gets EIO."""
        tg = task.tg
        if tg.ctty is not self or self.pgrp is None or tg.pgid == self.pgrp:
            return
        if task.sigmask & sigbit(sig) or _handler(tg, sig) == SIG_IGN:
            if sig == SIGTTIN:
                raise SyscallError(errno.EIO)
            return
        if pgrp_orphaned(task.kernel, tg.pgid):
            raise SyscallError(errno.EIO)
        if task.kernel.in_poller():
            raise MustExit()      # a signal to ourselves: the vCPU thread must deliver it
        kill_pgrp(task.kernel, tg.pgid, sig)
        raise SyscallError(ERESTARTSYS)

    def set_foreground(self, task: Any, pgrp: int) -> None:
        """TIOCSPGRP once the caller passed check_access: it must control
        the terminal, and `pgrp` must name a group (or, as Linux, at least a
        process) of its own session."""
        tg = task.tg
        if pgrp < 0:
            raise SyscallError(errno.EINVAL)
        if tg.ctty is not self or self.session != tg.sid:
            raise SyscallError(errno.ENOTTY)
        members = [g for g in _groups(task.kernel) if g.pgid == pgrp]
        if not members:
            proc = task.kernel.find_thread_group(pgrp)
            members = [proc] if proc is not None and not proc.zombie else []
        if not members:
            raise SyscallError(errno.ESRCH)
        if members[0].sid != tg.sid:
            raise SyscallError(errno.EPERM)
        self.pgrp = pgrp

    def signal_foreground(self, kernel: Any, signo: int) -> bool:
        """What the line discipline does on ^C, ^\\, ^Z or a resize: the
        signal goes to every process of the foreground group. False when
        there is no foreground group."""
        if self.pgrp is None:
            return False
        kill_pgrp(kernel, self.pgrp, signo)
        return True


def _tty_id(fd: int) -> tuple[int, int]:
    """Which host tty `fd` is: the device, and the devpts instance holding
    it (two instances may both have a pts 0)."""
    st = os.fstat(fd)
    return st.st_dev, st.st_rdev


def _groups(kernel: Any) -> list[Any]:
    """Live processes (zombies have no terminal and take no signals)."""
    return [tg for tg in getattr(kernel, "thread_groups", {}).values()
            if not tg.zombie and not tg.reaped]


def _handler(tg: Any, sig: int) -> int:
    act = tg.sigactions.get(sig)
    return act.handler if act is not None else 0


def kill_pgrp(kernel: Any, pgid: int, signo: int) -> None:
    """A kernel-sent signal (SI_KERNEL) to every process of a group."""
    from qkernel.signals import send_signal
    for tg in _groups(kernel):
        if tg.pgid == pgid:
            send_signal(kernel, tg, signo, None)


def pgrp_orphaned(kernel: Any, pgid: int) -> bool:
    """POSIX's orphaned process group: no member has a parent in another
    group of the same session (so no job-control shell could continue it).
    The container's PID 1 counts as a parent like any other: it is the
    init of a pid namespace, not the global init Linux leaves out."""
    for tg in _groups(kernel):
        if tg.pgid != pgid:
            continue
        parent = tg.parent
        if parent is not None and parent.pgid != pgid and parent.sid == tg.sid:
            return False
    return True


def controlling(task: Any) -> Terminal | None:
    """The caller's controlling terminal, if it has one."""
    return getattr(task.tg, "ctty", None)
