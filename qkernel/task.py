"""A task: one guest thread, with the state QKernel keeps for it.

v0 runs one task per sandbox (fork/clone/threads come with the processes
issue); the fields are already those a thread group will need, so handlers
written now need not change then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qkernel.creds import Credentials
from qkernel.limits import ResourceLimits

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


@dataclass
class Task:
    kernel: "Kernel"
    mm: "AddressSpace"
    fds: "FdTable"
    fs: "FsContext"
    creds: Credentials
    pid: int                       # thread-group id as the guest sees it
    tid: int
    ppid: int = 0
    pgid: int = 0
    sid: int = 0
    comm: bytes = b""              # PR_SET_NAME / /proc/self/comm, 15 bytes max
    exe_path: str = ""             # guest path of the executable (/proc/self/exe)
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    sigactions: dict[int, SignalAction] = field(default_factory=dict)
    sigmask: int = 0
    clear_child_tid: int = 0
    robust_list: tuple[int, int] = (0, 0)
    rseq: tuple[int, int, int] = (0, 0, 0)   # (address, length, signature)
    fs_base: int = 0
    exit_status: int | None = None          # wait status once the task has exited
    start_time_ns: int = 0
    cpu_time_ns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # per-family scratch, named by family

    def __post_init__(self) -> None:
        if not self.pgid:
            self.pgid = self.pid
        if not self.sid:
            self.sid = self.pid
