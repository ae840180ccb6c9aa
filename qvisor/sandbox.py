"""One container's VM and kernel, in phases: build, start, wait, close.

`Sandbox.build()` makes the VM and QKernel and loads PID 1's program without
running it (the OCI "created" state); `start()` runs it; `wait()` returns the
container's exit status (the code, or 128+N when its init was killed by
signal N). While it runs, `spawn()` adds a process (`quark exec`), and
`signal()`/`processes()` serve `kill` and `ps`. `run_sandbox` is all of it
in one call, for `quark run`.

Errors about the container itself (its program cannot be found or is not an
x86-64 ELF) are SandboxError with one line for the user; anything else is a
quark bug.

Signals the sandbox process gets (SIGTERM, SIGINT, SIGHUP, ...) go to the
kernel's `forward_host_signal`, as a container runtime's shim would deliver them.
"""
from __future__ import annotations

import dataclasses
import errno
import logging
import os
import queue
import signal
import threading
import time

from qkernel.arch import UserRegs
from qkernel.config import KernelConfig
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel, exit_code_of
from qkernel.loader.elf import ExecFormatError
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup
from qvisor.errors import SandboxError
from qvisor.oci.process import ProcessSpec
from qvisor.machine import Machine
from qvisor.qcall import QCallServer
from qvisor.tasks import TaskLauncher
from qvisor.vcpu import KICK_SIGNAL

DEFAULT_MEMORY = 4 << 30
MIN_MEMORY = 64 << 20
# SIGUSR2 is not here: it is the vCPU kick (KICK_SIGNAL).
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGWINCH, signal.SIGTSTP)


def guest_memory_size(config: KernelConfig) -> int:
    size = config.memory_limit or DEFAULT_MEMORY
    size = max(size, MIN_MEMORY)
    return (size + (2 << 20) - 1) & ~((2 << 20) - 1)


class Sandbox:
    def __init__(self, config: KernelConfig, log: logging.Logger | None = None,
                 host_fds: list[int] | None = None) -> None:
        self.config = config
        self.host_fds = host_fds if host_fds is not None else [0, 1, 2]   # PID 1's fds 0..
        self.log = log or logging.getLogger("quark")
        self.machine: Machine | None = None
        self.kernel: Kernel | None = None
        self.server: QCallServer | None = None
        self.launcher: TaskLauncher | None = None
        self._init_regs: UserRegs | None = None
        self._init_task: Task | None = None
        self._init_done = threading.Event()
        self._old_handlers: dict[int, object] = {}
        self._signals: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.started = False

    # ---- phases -------------------------------------------------------------------
    def build(self) -> None:
        """VM, kernel and PID 1 loaded, not running (call from the main thread)."""
        memory_size = guest_memory_size(self.config)
        self.machine = Machine(memory_size)
        kernel = self.kernel = Kernel(self.config, memory_size, self.log)
        kernel.new_address_space = self.machine.new_address_space   # type: ignore[attr-defined]
        task = kernel.new_init_task(self.machine.new_address_space(), self.host_fds)
        entry, rsp = _load_program(self.config.args[0], _init_loader(task, self.config))
        self._init_task, self._init_regs = task, UserRegs(rip=entry, rsp=rsp)
        self.server = QCallServer(self.machine, kernel)
        self.launcher = TaskLauncher(self.machine, kernel, self.server, self.log)
        kernel.launcher = self.launcher
        kernel.on_init_exit = self._init_done.set       # type: ignore[attr-defined]
        # vCPU kicks interrupt KVM_RUN with this signal; its handler does
        # nothing, and stays installed: a late kick must never kill the process.
        signal.signal(KICK_SIGNAL, lambda *_: None)
        # Never stopped by its own terminal: the guest's background reads and
        # writes are judged by QKernel, not by the host.
        for sig in (signal.SIGTTIN, signal.SIGTTOU):
            self._old_handlers[sig] = signal.signal(sig, signal.SIG_IGN)
        threading.Thread(target=self._forward_loop, name="quark-signals", daemon=True).start()
        for sig in FORWARDED_SIGNALS:
            self._old_handlers[sig] = signal.signal(sig, self._forward)
        self.server.start()

    def start(self) -> None:
        assert self.kernel is not None and self.launcher is not None
        with self.kernel.lock:
            if self.started:
                return
            self.started = True
            self.launcher.start(self._init_task, self._init_regs, None)   # type: ignore[arg-type]

    def wait(self, timeout: float | None = None) -> int | None:
        """PID 1's exit status; None if `timeout` (seconds) passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Short waits: the main thread must come back to run signal handlers.
        while not self._init_done.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                return None
        assert self.kernel is not None and self.launcher is not None
        if self.launcher.crash is not None:
            raise self.launcher.crash
        assert self.kernel.init_tg is not None
        return exit_code_of(self.kernel.init_tg.group_exit_status or 0)

    @property
    def finished(self) -> bool:
        return self._init_done.is_set()

    def close(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)        # type: ignore[arg-type]
        self._old_handlers.clear()
        self._signals.put(None)
        kernel = self.kernel
        if kernel is not None:
            with kernel.lock:
                kernel.shutting_down = True
                for tg in list(kernel.thread_groups.values()):
                    if not tg.zombie:
                        kernel.kill_group(tg, 9)
        if self.server is not None:
            self.server.stop()
        if kernel is not None:
            timers = getattr(kernel, "timers", None)
            if timers is not None and hasattr(timers, "stop"):
                with kernel.lock:              # its condition is bound to the kernel lock
                    timers.stop()
            kernel.vfs.close()
        if self.machine is not None:
            self.machine.close()
        self.kernel = self.machine = self.server = None

    # ---- serving a running container ----------------------------------------------
    def spawn(self, spec: ProcessSpec, host_fds: list[int]) -> ThreadGroup:
        """Start a new process in the container, its fds 0.. dups of `host_fds`
        (`quark exec`). Its parent is outside the container (ppid 0), as with runc."""
        kernel, launcher, machine = self.kernel, self.launcher, self.machine
        if kernel is None or launcher is None or machine is None or self.finished:
            raise SandboxError("the container is not running")
        config = dataclasses.replace(self.config, args=spec.args, env=spec.env, cwd=spec.cwd,
                                     uid=spec.uid, gid=spec.gid,
                                     additional_gids=spec.additional_gids,
                                     no_new_privileges=spec.no_new_privileges)
        with kernel.lock:
            task = kernel.new_process_task(machine.new_address_space(), config, host_fds,
                                           controlling_tty=spec.terminal)
        try:
            entry, rsp = _load_program(spec.args[0], _init_loader(task, config))
        except BaseException:
            with kernel.lock:
                kernel.discard_unstarted_task(task)
            raise
        with kernel.lock:
            launcher.start(task, UserRegs(rip=entry, rsp=rsp), None)
        return task.tg

    def wait_process(self, tg: ThreadGroup, timeout: float | None = None) -> int | None:
        """The exit status of a spawned process (None on timeout)."""
        kernel = self.kernel
        assert kernel is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        with kernel.lock:
            while not tg.zombie:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                kernel.changed.wait(0.5 if left is None else min(left, 0.5))
            return exit_code_of(tg.group_exit_status or 0)

    def signal(self, signo: int, everyone: bool = False, tg: ThreadGroup | None = None) -> None:
        """Send `signo` to PID 1, to one process, or to every process (`kill --all`)."""
        from qkernel import signals
        kernel = self.kernel
        if kernel is None:
            return
        with kernel.lock:
            if tg is not None:
                targets = [tg]
            elif everyone:
                targets = [t for t in kernel.thread_groups.values() if not t.zombie]
            else:
                targets = [kernel.init_tg] if kernel.init_tg is not None else []
            for target in targets:
                if not target.zombie:
                    signals.send_signal(kernel, target, signo, None)

    def signal_process(self, tg: ThreadGroup, signo: int) -> None:
        """A signal that `quark exec`'s stand-in got. When the process has a
        terminal, the stand-in owns the host pty, so ^C, ^\\, ^Z and resizes
        arrive this way: they go to the terminal's foreground group, as a
        line discipline sends them; anything else goes to the process."""
        from qkernel import signals
        from qkernel.kernel import TTY_SIGNALS
        kernel = self.kernel
        if kernel is None:
            return
        with kernel.lock:
            term = tg.ctty
            if signo in TTY_SIGNALS and term is not None and term.signal_foreground(kernel, signo):
                return
            if not tg.zombie:
                signals.send_signal(kernel, tg, signo, None)

    def processes(self) -> list[dict[str, object]]:
        """The container's live processes, as `quark ps` shows them."""
        kernel = self.kernel
        if kernel is None:
            return []
        out = []
        with kernel.lock:
            for tg in sorted(kernel.thread_groups.values(), key=lambda t: t.pid):
                if tg.reaped or tg.zombie or not tg.tasks:
                    continue
                leader = tg.tasks.get(tg.pid) or next(iter(tg.tasks.values()))
                out.append({
                    "pid": tg.pid,
                    "ppid": tg.parent.pid if tg.parent is not None else 0,
                    "uid": leader.creds.euid,
                    "comm": _text(leader.comm),
                    "threads": len(tg.tasks),
                    "start_ns": tg.start_time_ns,
                })
        return out

    def _forward(self, signo: int, _frame: object) -> None:
        # Only queue it: a handler runs in the main thread between any two
        # bytecodes, maybe while that thread holds kernel.lock (not reentrant).
        self._signals.put(signo)

    def _forward_loop(self) -> None:
        while True:
            signo = self._signals.get()
            kernel = self.kernel
            if signo is None or kernel is None:
                return
            with kernel.lock:
                kernel.forward_host_signal(signo)


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def run_sandbox(config: KernelConfig, log: logging.Logger | None = None) -> int:
    sandbox = Sandbox(config, log)
    try:
        sandbox.build()
        sandbox.start()
        status = sandbox.wait()
        assert status is not None
        return status
    finally:
        sandbox.close()


def _init_loader(task: object, config: KernelConfig):  # type: ignore[no-untyped-def]
    from qkernel.loader.init import load_init_program
    return lambda: load_init_program(task, config)


def _load_program(argv0: str, load) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Run a program load; SandboxError (one line, runc's 126/127) when it cannot be run."""
    try:
        return load()
    except ExecFormatError as exc:
        raise SandboxError(f"exec {argv0}: exec format error: {exc.reason}", 126) from None
    except SyscallError as exc:
        status = 127 if exc.errno == errno.ENOENT else 126
        raise SandboxError(f"exec {argv0}: {os.strerror(exc.errno)}", status) from None
