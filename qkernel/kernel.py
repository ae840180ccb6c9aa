"""The Kernel: one per sandbox, the state every task shares.

Threading shape (v0): the vCPU thread runs guest code and serves the
requests that need vCPU state or may block; the C QCall poller thread serves
the others. Both call `Kernel.syscall`; a request is claimed by exactly one
of them (qvisor/native), so a task's syscalls never run concurrently. The
poller marks itself with `serving_in_poller`, and handlers that would block
raise MustExit so the vCPU thread serves them instead.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Iterator, Protocol

from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.task import Task


class TaskExit(BaseException):
    """The task's thread group is gone; `wait_status` is what wait(2) would see.

    A BaseException: it is control flow that must pass every `except Exception`
    between a handler and the vCPU loop (as SystemExit does)."""

    def __init__(self, wait_status: int) -> None:
        super().__init__(f"wait status {wait_status:#x}")
        self.wait_status = wait_status

    @property
    def exit_code(self) -> int:
        """The sandbox process's exit status: the code, or 128+N for signal N."""
        if self.wait_status & 0x7F:
            return 128 + (self.wait_status & 0x7F)
        return (self.wait_status >> 8) & 0xFF


class CpuControl(Protocol):
    def set_fs_base(self, task: Task, value: int) -> None: ...
    def set_gs_base(self, task: Task, value: int) -> None: ...


class Kernel:
    def __init__(self, config: KernelConfig, memory_size: int,
                 log: logging.Logger | None = None) -> None:
        self.config = config
        self.memory_size = memory_size
        self.log = log or logging.getLogger("quark")
        self.hostname = config.hostname
        self.domainname = config.domainname
        self.boot_monotonic_ns = time.monotonic_ns()
        self.vcpu_count = 1
        self.interrupt_event = threading.Event()
        self.cpu: CpuControl | None = None
        self._local = threading.local()
        self.tasks: dict[int, Task] = {}
        self.strace_out = sys.stderr
        from qkernel.vfs.build import build_vfs   # the VFS depends on config only
        self.vfs = build_vfs(config, self.log)
        from generated import syscall_table
        self._table = syscall_table

    # ---- threads serving this kernel ------------------------------------
    def in_poller(self) -> bool:
        return bool(getattr(self._local, "in_poller", False))

    @contextlib.contextmanager
    def serving_in_poller(self) -> Iterator[None]:
        self._local.in_poller = True
        try:
            yield
        finally:
            self._local.in_poller = False

    # ---- syscalls ----------------------------------------------------------
    def needs_vcpu(self, nr: int) -> bool:
        return nr in self._table.NEEDS_VCPU

    def syscall(self, task: Task, nr: int, args: tuple[int, int, int, int, int, int]) -> int:
        """Serve one syscall; returns the value for rax (result or -errno).

        TaskExit and MustExit propagate; nothing else does."""
        if not self.config.strace:
            return self._table.dispatch(task, nr, *args)
        try:
            result = self._table.dispatch(task, nr, *args)
        except TaskExit:
            self._strace(task, nr, args, None)      # exit never returns: "= ?" as strace
            raise
        self._strace(task, nr, args, result)
        return result

    def _strace(self, task: Task, nr: int, args: tuple[int, ...], result: int | None) -> None:
        try:
            line = self._table.format_call(task, nr, args, 0 if result is None else result)
            if result is None:
                line = line.rsplit(" = ", 1)[0] + " = ?"
        except Exception as exc:  # noqa: BLE001 - tracing must never break the guest
            line = f"syscall_{nr}(...) = {result} <format error: {exc}>"
        print(f"[{task.tid}] {line}", file=self.strace_out, flush=True)

    # ---- what handlers ask of the machine -----------------------------------
    def set_fs_base(self, task: Task, value: int) -> None:
        task.fs_base = value
        if self.cpu is not None:
            self.cpu.set_fs_base(task, value)

    def set_gs_base(self, task: Task, value: int) -> None:
        task.extra["gs_base"] = value
        if self.cpu is not None:
            self.cpu.set_gs_base(task, value)

    def exit_group(self, task: Task, code: int) -> None:
        task.exit_status = (code & 0xFF) << 8
        raise TaskExit(task.exit_status)

    def kill_by_signal(self, task: Task, signo: int) -> None:
        task.exit_status = signo & 0x7F
        raise TaskExit(task.exit_status)

    # ---- tasks ---------------------------------------------------------------
    def new_init_task(self, mm: object) -> Task:
        from qkernel.vfs.build import initial_fs_context
        from qkernel.vfs.fdtable import FdTable
        cfg = self.config
        creds = Credentials.for_user(cfg.uid, cfg.gid, cfg.additional_gids)
        task = Task(kernel=self, mm=mm, fds=FdTable.with_stdio(), fs=initial_fs_context(self.vfs, cfg),
                    creds=creds, pid=1, tid=1, ppid=0)
        for name, (soft, hard) in cfg.rlimits.items():
            from qkernel.limits import RLIMIT_NAMES
            if name in RLIMIT_NAMES:
                task.limits.set(RLIMIT_NAMES.index(name), soft, hard)
        task.start_time_ns = time.monotonic_ns()
        self.tasks[task.tid] = task
        return task
