"""TerminalFile: a guest file open on the container's terminal (fds 0/1/2
when the sandbox's stdio is a tty, and each open of /dev/tty, /dev/pts/0
or /dev/console).

Data goes to and from the host tty as for any host stream; what makes it a
terminal is the shared Terminal: job-control checks before reading (SIGTTIN)
and before writing with TOSTOP (SIGTTOU), the tty ioctls, and a guest-side
identity (its /dev node's stat, its name in /proc/<pid>/fd) instead of the
host's pty, so ttyname(3) finds it in the guest's /dev.
"""
from __future__ import annotations

import errno
import fcntl
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.signals.consts import SIGTTIN, SIGTTOU
from qkernel.vfs import abi
from qkernel.vfs.hostfile import HostStream
from qkernel.vfs.statinfo import StatInfo
from qkernel.vfs.terminal import Terminal
from qkernel.vfs.tty_ioctl import terminal_ioctl

TOSTOP = 0o400            # c_lflag bit: background writes get SIGTTOU
_LFLAG = struct.Struct("<12xI")


class TerminalFile(HostStream):
    def __init__(self, fd: int, flags: int, path: str, terminal: Terminal,
                 node: Any = None, node_dev: int = 0) -> None:
        super().__init__(fd, flags, path)
        self.terminal = terminal
        terminal.file_opened()
        # The node it was opened through (/dev/tty is not /dev/pts/0 to
        # fstat); stdio has the terminal's own.
        self.node = node if node is not None else terminal.node
        self.node_dev = node_dev if node is not None else terminal.node_dev
        if node is None:
            self.location = terminal.location   # /proc/<pid>/fd/N reopens /dev/pts/0

    def release(self) -> None:
        closing = self.fd >= 0
        super().release()
        if closing:
            self.terminal.file_closed()

    def read(self, task: Any, n: int) -> bytes:
        if n > 0:
            self.terminal.check_access(task, SIGTTIN)
        return super().read(task, n)

    def write(self, task: Any, data: bytes) -> int:
        if data and self._background(task) and self._tostop():
            self.terminal.check_access(task, SIGTTOU)
        return super().write(task, data)

    def _background(self, task: Any) -> bool:
        term = self.terminal
        return task.tg.ctty is term and term.pgrp is not None and task.tg.pgid != term.pgrp

    def _tostop(self) -> bool:
        try:
            raw = fcntl.ioctl(self.fd, abi.TCGETS, bytes(abi.TERMIOS_SIZE))
        except OSError:
            return False
        return bool(_LFLAG.unpack_from(raw)[0] & TOSTOP)

    def ioctl(self, task: Any, cmd: int, arg: int) -> int:
        return terminal_ioctl(task, self, self.terminal, cmd, arg)

    # -- identity: the guest's /dev node, not the host's pty --------------------
    def stat(self, task: Any) -> StatInfo:
        if self.node is None:
            return super().stat(task)
        return self.node.stat(task, self.node_dev)

    def chmod(self, task: Any, mode: int) -> None:
        raise SyscallError(errno.EPERM)       # /dev nodes are fixed here (as by path)

    def chown(self, task: Any, uid: int, gid: int) -> None:
        raise SyscallError(errno.EPERM)

    def utimens(self, task: Any, atime: tuple[int, int], mtime: tuple[int, int]) -> None:
        """Device timestamps are not kept (as the devfs nodes by path)."""

    def proc_link(self) -> str:
        return self.path or self.terminal.name
