"""The Kernel: one per sandbox, the state every task shares.

Threading shape: every guest task runs on a host thread of its own, which
owns a vCPU while the task lives (qvisor/tasks.py): guest code runs in
KVM_RUN on it, and the syscalls that need vCPU state or may block are served
there as straight-line Python that blocks when it must. The C QCall poller
thread serves the other syscalls of every vCPU. The host scheduler
time-slices the task threads, so a CPU-bound task cannot starve others.

All kernel state is guarded by one lock (`lock`), held for the whole of a
syscall; a syscall that waits releases it through `wait_until`, which
sleeps on the kernel-wide condition `changed`. Anything that could satisfy
a waiter (a pipe write, a child's exit, a signal, a futex wake) calls
`notify()`. The poller never waits: `wait_until` raises MustExit there, and
the request is served again on the task's own thread.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol

from qkernel.arch import UserRegs
from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.errors import MustExit, SyscallError
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.terminal import Terminal

# Internal "restart me" results, as Linux's (never seen by the guest).
ERESTARTSYS = 512
ERESTARTNOINTR = 513
ERESTARTNOHAND = 514
ERESTART_RESTARTBLOCK = 516
PID_MAX = 4194304
# What a terminal sends its foreground group: SIGINT, SIGQUIT, SIGTSTP, SIGWINCH.
TTY_SIGNALS = (2, 3, 20, 28)


def _stdio_terminal(task: Task) -> "Terminal | None":
    """The guest terminal among a task's fds 0-2, if any."""
    for fd in range(3):
        term = getattr(task.fds.lookup(fd), "terminal", None)
        if term is not None:
            return term
    return None


class TaskExit(BaseException):
    """The task's thread is gone; `wait_status` is what wait(2) would see.

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


def exit_code_of(wait_status: int) -> int:
    return TaskExit(wait_status).exit_code


class CpuControl(Protocol):
    """What a task's vCPU offers the kernel (qvisor/vcpu.py implements it)."""
    def set_fs_base(self, value: int) -> None: ...
    def set_gs_base(self, value: int) -> None: ...
    def user_regs(self) -> UserRegs: ...
    def set_user_regs(self, regs: UserRegs) -> None: ...
    def get_xsave(self) -> bytes: ...
    def set_xsave(self, data: bytes) -> None: ...
    def set_address_space(self, mm: object) -> None: ...
    def kick(self) -> None: ...


class Launcher(Protocol):
    """Starts a new task on a host thread and vCPU of its own (qvisor/tasks.py)."""
    def start(self, task: Task, regs: UserRegs, xsave: bytes | None) -> None: ...


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
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._local = threading.local()
        self.tasks: dict[int, Task] = {}               # live tasks by tid
        self.thread_groups: dict[int, ThreadGroup] = {}  # live and zombie processes by pid
        self._next_pid = 1
        self.launcher: Launcher | None = None
        self.init_tg: ThreadGroup | None = None
        self.terminal: "Terminal | None" = None     # PID 1's stdio tty, if it is one
        self.terminals: list["Terminal"] = []       # every guest tty (one per host tty)
        self.strace_out = sys.stderr
        self.shutting_down = False
        from qkernel.vfs.build import build_vfs   # the VFS depends on config only
        self.vfs = build_vfs(config, self.log, config.tmpfs_base)
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

    # ---- waiting and waking ------------------------------------------------------
    def notify(self) -> None:
        """Something waiters may be waiting for changed (call with `lock` held)."""
        self.changed.notify_all()

    def wait_until(self, task: Task, ready: Callable[[], bool], deadline: float | None = None,
                   interruptible: bool = True) -> bool:
        """Sleep (releasing `lock`) until `ready()`; False when `deadline`
        (time.monotonic) passes. A signal the task must take ends the wait
        with ERESTARTSYS; a dying thread group ends it with TaskExit."""
        if ready():
            return True
        if self.in_poller():
            raise MustExit()
        while True:
            if task.tg.exiting or self.shutting_down or task.extra.get("exec_killed"):
                raise TaskExit(task.tg.group_exit_status or 9)
            if interruptible and self.signal_pending(task):
                raise SyscallError(ERESTARTSYS)
            timeout = None
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return False
            self.changed.wait(timeout)
            if ready():
                return True

    @contextlib.contextmanager
    def unlocked(self) -> Iterator[None]:
        """Run host work that may block (a read from a host pipe) without the lock."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def signal_pending(self, task: Task) -> bool:
        """A signal is queued that the task does not block."""
        from qkernel import signals
        return signals.has_deliverable(task)

    # ---- syscalls ----------------------------------------------------------
    def needs_vcpu(self, nr: int) -> bool:
        return nr in self._table.NEEDS_VCPU

    def syscall(self, task: Task, nr: int, args: tuple[int, int, int, int, int, int]) -> int:
        """Serve one syscall; returns the value for rax (result or -errno).

        TaskExit and MustExit propagate; nothing else does."""
        with self.lock:
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
        if task.cpu is not None:
            task.cpu.set_fs_base(value)

    def set_gs_base(self, task: Task, value: int) -> None:
        task.extra["gs_base"] = value
        if task.cpu is not None:
            task.cpu.set_gs_base(value)

    # ---- pids and tasks --------------------------------------------------------
    def alloc_pid(self) -> int:
        for _ in range(PID_MAX):
            pid = self._next_pid
            self._next_pid = pid + 1 if pid + 1 < PID_MAX else 2
            if pid not in self.tasks and pid not in self.thread_groups:
                return pid
        raise SyscallError(errno.EAGAIN)

    def find_task(self, tid: int) -> Task | None:
        return self.tasks.get(tid)

    def find_thread_group(self, pid: int) -> ThreadGroup | None:
        tg = self.thread_groups.get(pid)
        return tg if tg is not None and not tg.reaped else None

    def register(self, task: Task) -> None:
        self.tasks[task.tid] = task
        task.tg.tasks[task.tid] = task
        self.thread_groups[task.tg.pid] = task.tg

    def new_init_task(self, mm: object, host_fds: Iterable[int] = (0, 1, 2)) -> Task:
        task = self.new_process_task(mm, self.config, host_fds, console=True)
        self.init_tg = task.tg
        term = _stdio_terminal(task)
        if term is not None and term.session is None:
            # As runc's container init: a session leader whose controlling
            # terminal is the console, its group in the foreground.
            term.attach(task.tg)
            self.terminal = term
        return task

    def new_process_task(self, mm: object, cfg: KernelConfig, host_fds: Iterable[int],
                         controlling_tty: bool = False, console: bool = False) -> Task:
        """A new process with no parent in the container (PID 1, or one that
        `quark exec` adds): its own session and group, fds 0.. dups of
        `host_fds`, credentials, cwd and rlimits from `cfg` (lock held)."""
        from qkernel.limits import RLIMIT_NAMES
        from qkernel.vfs.build import initial_fs_context
        from qkernel.vfs.fdtable import FdTable
        pid = self.alloc_pid()
        tg = ThreadGroup(pid=pid, parent=None, pgid=pid, sid=pid, start_time_ns=time.monotonic_ns())
        creds = Credentials.for_user(cfg.uid, cfg.gid, cfg.additional_gids)
        host_fds = tuple(host_fds)
        term = self._terminal_for(host_fds, cfg.uid, console)
        task = Task(kernel=self, mm=mm, fds=FdTable.with_stdio(host_fds, term),  # type: ignore[arg-type]
                    fs=initial_fs_context(self.vfs, cfg), creds=creds, pid=pid, tid=pid, tg=tg)
        if term is not None and controlling_tty and term.session is None:
            term.attach(tg)
        for name, (soft, hard) in cfg.rlimits.items():
            if name in RLIMIT_NAMES:
                task.limits.set(RLIMIT_NAMES.index(name), soft, hard)
        if cfg.no_new_privileges:
            task.extra["no_new_privs"] = 1
        task.start_time_ns = time.monotonic_ns()
        self.register(task)
        return task

    def discard_unstarted_task(self, task: Task) -> None:
        """Forget a task made by new_process_task whose program did not load."""
        task.tg.group_exit_status = 127 << 8
        self.task_exited(task)
        self.thread_groups.pop(task.tg.pid, None)

    # ---- terminals ----------------------------------------------------------------
    def terminal_of_stdio(self, host_fds: Iterable[int]) -> "Terminal | None":
        """The guest terminal of the first tty among `host_fds` (None: no tty)."""
        for fd in host_fds:
            for term in self.terminals:
                if term.is_host_tty(fd):
                    return term
        return None

    def _terminal_for(self, host_fds: tuple[int, ...], uid: int,
                      console: bool) -> "Terminal | None":
        """The guest terminal for a new process's stdio: the one already made
        for that host tty, else a new one with its /dev/pts/N (and
        /dev/console when it is PID 1's, `console`)."""
        term = self.terminal_of_stdio(host_fds)
        if term is not None:
            return term
        from qkernel.vfs.devices import add_terminal, devfs_mount
        from qkernel.vfs.mounts import Location
        from qkernel.vfs.terminal import Terminal
        used = {os.minor(t.rdev) for t in self.terminals}
        minor = min(set(range(len(used) + 1)) - used)
        term = Terminal.from_host_fds(host_fds, minor)
        if term is None:
            return None
        if not console:
            # A `quark exec -t` pty: gone with its last guest file, so the
            # caller's pty sees the end and /dev/pts/N goes away (PID 1's
            # terminal, the container's console, stays).
            term.on_unused = self._drop_terminal
        dev = devfs_mount(self.vfs)
        if dev is not None:
            add_terminal(dev.fs, term, uid, console=console)
            term.location = Location(dev, ("pts", str(minor)))
        self.terminals.append(term)
        return term

    def _drop_terminal(self, term: "Terminal") -> None:
        from qkernel.vfs.devices import devfs_mount, remove_terminal
        if term.session is not None:
            term.release_session(self)
        if term in self.terminals:
            self.terminals.remove(term)
        dev = devfs_mount(self.vfs)
        if dev is not None:
            remove_terminal(dev.fs, term)
        term.close()

    # ---- signals from the host ---------------------------------------------------
    def forward_host_signal(self, signo: int) -> None:
        """A signal the sandbox process got from the host (call with `lock`
        held). The sandbox is the host's foreground process group on the
        container's terminal, so the host line discipline's signals (^C,
        ^\\, ^Z, a resize) come here: they go on to the guest terminal's
        foreground group, as Linux's line discipline sends them. The rest (a
        shim's kill, a hangup), and everything when there is no terminal,
        go to PID 1, as runc's container init would get them."""
        from qkernel import signals
        term = self.terminal
        if signo in TTY_SIGNALS and term is not None and term.signal_foreground(self, signo):
            return
        if self.init_tg is not None and not self.init_tg.zombie:
            signals.send_signal(self, self.init_tg, signo, None)

    # ---- exits -----------------------------------------------------------------
    def exit_group(self, task: Task, code: int) -> None:
        """exit_group(2): every thread of the group ends with this status."""
        self.kill_group(task.tg, (code & 0xFF) << 8)
        raise TaskExit(task.tg.group_exit_status or 0)

    def exit_thread(self, task: Task, code: int) -> None:
        """exit(2): only this thread ends; the group ends with its last thread."""
        if task.tg.group_exit_status is None:
            task.tg.group_exit_status = (code & 0xFF) << 8
        task.exit_status = (code & 0xFF) << 8
        raise TaskExit(task.exit_status)

    def kill_by_signal(self, task: Task, signo: int, core: bool = False) -> None:
        """A fatal signal: the whole thread group dies (call with the lock held)."""
        self.kill_group(task.tg, (signo & 0x7F) | (0x80 if core else 0))
        raise TaskExit(task.tg.group_exit_status or signo)

    def kill_group(self, tg: ThreadGroup, wait_status: int) -> None:
        """Make every thread of `tg` leave at its next chance (lock held)."""
        if not tg.exiting:
            tg.exiting = True
            tg.group_exit_status = wait_status
        for t in list(tg.tasks.values()):
            if t.cpu is not None:
                t.cpu.kick()
        self.notify()

    def task_exited(self, task: Task) -> None:
        """Bookkeeping once a task's thread has left the guest (lock held)."""
        from qkernel import process_exit
        process_exit.release_task(self, task)
