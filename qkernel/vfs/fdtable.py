"""FdTable: a task's file descriptors -> (OpenFile, close-on-exec)."""
from __future__ import annotations

import errno
import fcntl
import os
import threading
from typing import TYPE_CHECKING, Iterable

from qkernel.errors import SyscallError
from qkernel.vfs.file import OpenFile

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.terminal import Terminal

# Largest fd number ever handed out whatever RLIMIT_NOFILE says (Linux's nr_open).
NR_OPEN = 1 << 20


class FdTable:
    def __init__(self) -> None:
        self._fds: dict[int, tuple[OpenFile, bool]] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_stdio(cls, host_fds: Iterable[int] = (0, 1, 2),
                   terminal: "Terminal | None" = None) -> "FdTable":
        """Guest fds 0/1/2 = dups of the sandbox's host stdio (a closed host
        fd leaves the guest fd closed too). Those on `terminal`'s host tty
        are files of that one guest terminal."""
        from qkernel.vfs.hostfile import HostStream
        from qkernel.vfs.tty_file import TerminalFile
        table = cls()
        for guest_fd, host_fd in enumerate(host_fds):
            try:
                flags = fcntl.fcntl(host_fd, fcntl.F_GETFL)
                fd = os.dup(host_fd)
            except OSError:
                continue
            os.set_inheritable(fd, False)
            flags &= ~os.O_CLOEXEC
            f: OpenFile
            if terminal is not None and terminal.is_host_tty(fd):
                f = TerminalFile(fd, flags, "", terminal)
            else:
                f = HostStream(fd, flags, "")
            table.install_at(guest_fd, f, False)
        return table

    # -- queries ----------------------------------------------------------------
    def get(self, fd: int) -> OpenFile:
        ent = self._fds.get(fd)
        if ent is None:
            raise SyscallError(errno.EBADF)
        return ent[0]

    def lookup(self, fd: int) -> OpenFile | None:
        ent = self._fds.get(fd)
        return ent[0] if ent else None

    def get_cloexec(self, fd: int) -> bool:
        self.get(fd)
        return self._fds[fd][1]

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        with self._lock:
            f = self.get(fd)
            self._fds[fd] = (f, cloexec)

    def fds(self) -> list[int]:
        return sorted(self._fds)

    def __len__(self) -> int:
        return len(self._fds)

    # -- changes -----------------------------------------------------------------
    def install(self, file: OpenFile, cloexec: bool = False, limit: int = 1024, lowest: int = 0) -> int:
        """Lowest free fd >= lowest; EMFILE when it would be >= limit (RLIMIT_NOFILE)."""
        limit = min(limit, NR_OPEN)
        with self._lock:
            fd = lowest
            while fd in self._fds:
                fd += 1
            if fd >= limit:
                raise SyscallError(errno.EMFILE)
            file.incref()
            self._fds[fd] = (file, cloexec)
            return fd

    def install_at(self, fd: int, file: OpenFile, cloexec: bool = False, limit: int = NR_OPEN) -> None:
        """dup2 semantics: whatever was at fd is closed."""
        if fd < 0 or fd >= min(limit, NR_OPEN):
            raise SyscallError(errno.EBADF)
        with self._lock:
            file.incref()
            old = self._fds.get(fd)
            self._fds[fd] = (file, cloexec)
        if old is not None:
            old[0].decref()

    def close(self, fd: int) -> None:
        with self._lock:
            ent = self._fds.pop(fd, None)
        if ent is None:
            raise SyscallError(errno.EBADF)
        ent[0].decref()

    def close_on_exec(self) -> None:
        for fd in [fd for fd, (_, ce) in self._fds.items() if ce]:
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self._fds):
            self.close(fd)

    def fork(self) -> "FdTable":
        """A copy sharing the open file descriptions (fork without CLONE_FILES)."""
        new = FdTable()
        with self._lock:
            for fd, (f, ce) in self._fds.items():
                f.incref()
                new._fds[fd] = (f, ce)
        return new
