"""A task: one guest thread, with the state QKernel keeps for it.

Process-wide state (pid, parent, process group, session, signal handlers,
exit status) lives in the task's ThreadGroup; the properties here read it,
so handlers can keep saying `task.pid` or `task.pgid`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qkernel.creds import Credentials
from qkernel.limits import ResourceLimits
from qkernel.threadgroup import ThreadGroup

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.kernel import Kernel
    from qkernel.mm.address_space import AddressSpace
    from qkernel.vfs.fdtable import FdTable
    from qkernel.vfs.fscontext import FsContext


@dataclass
class SignalAction:
    handler: int = 0        # SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


class Task:
    def __init__(self, kernel: "Kernel", mm: "AddressSpace", fds: "FdTable", fs: "FsContext",
                 creds: Credentials, pid: int, tid: int, ppid: int = 0,
                 tg: ThreadGroup | None = None, limits: ResourceLimits | None = None) -> None:
        self.kernel = kernel
        self.mm = mm
        self.fds = fds
        self.fs = fs
        self.creds = creds
        self.tid = tid
        # A task made without a group (unit tests, the init task before the
        # kernel registers it) gets a group of its own.
        self.tg = tg if tg is not None else ThreadGroup(pid=pid, parent=None, pgid=pid, sid=pid)
        self._fallback_ppid = ppid
        self.limits = limits or ResourceLimits()
        self.comm: bytes = b""                 # PR_SET_NAME, 15 bytes max
        self.sigmask = 0
        self.pending: dict[int, list[Any]] = {}   # thread-directed signals: signo -> siginfos
        self.sigaltstack: tuple[int, int, int] = (0, 2, 0)   # (sp, flags=SS_DISABLE, size)
        self.saved_sigmask: int | None = None  # restored after rt_sigsuspend's handler
        self.clear_child_tid = 0
        self.robust_list: tuple[int, int] = (0, 0)
        self.rseq: tuple[int, int, int] = (0, 0, 0)   # (address, length, signature)
        self.fs_base = 0
        self.exit_status: int | None = None    # wait status once the task has exited
        self.exited = False
        self.start_time_ns = 0
        self.cpu_time_ns = 0
        self.cpu: Any = None                   # the vCPU running this task (CpuControl)
        self.vfork_parent: "Task | None" = None
        self.extra: dict[str, Any] = {}        # per-family scratch, named by family

    # ---- process-wide state, read through the thread group -----------------
    @property
    def pid(self) -> int:
        return self.tg.pid

    @property
    def ppid(self) -> int:
        return self.tg.ppid if self.tg.parent is not None else self._fallback_ppid

    @property
    def pgid(self) -> int:
        return self.tg.pgid

    @pgid.setter
    def pgid(self, value: int) -> None:
        self.tg.pgid = value

    @property
    def sid(self) -> int:
        return self.tg.sid

    @sid.setter
    def sid(self, value: int) -> None:
        self.tg.sid = value

    @property
    def sigactions(self) -> dict[int, Any]:
        return self.tg.sigactions

    @property
    def exe_path(self) -> str:
        return self.tg.exe_path

    @exe_path.setter
    def exe_path(self, value: str) -> None:
        self.tg.exe_path = value

    def __repr__(self) -> str:
        return f"<Task tid={self.tid} pid={self.pid}>"
