"""Runs one container: build the VM and the kernel, start PID 1, wait for it.

`run_sandbox` returns the container's exit status (the code, or 128+N when
its init was killed by signal N). Errors about the container itself (its
program cannot be found or is not an x86-64 ELF) are SandboxError with one
line for the user; anything else is a quark bug.

Signals the sandbox process gets (SIGTERM, SIGINT, SIGHUP, ...) go to the
container's PID 1, as a container runtime's shim would deliver them.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import threading

from qkernel.arch import UserRegs
from qkernel.config import KernelConfig
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel, exit_code_of
from qkernel.loader.elf import ExecFormatError
from qvisor.machine import Machine
from qvisor.qcall import QCallServer
from qvisor.tasks import TaskLauncher
from qvisor.vcpu import KICK_SIGNAL

DEFAULT_MEMORY = 4 << 30
MIN_MEMORY = 64 << 20
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGWINCH)


class SandboxError(Exception):
    """The container cannot start; `status` is the exit status to report."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def guest_memory_size(config: KernelConfig) -> int:
    size = config.memory_limit or DEFAULT_MEMORY
    size = max(size, MIN_MEMORY)
    return (size + (2 << 20) - 1) & ~((2 << 20) - 1)


def run_sandbox(config: KernelConfig, log: logging.Logger | None = None) -> int:
    log = log or logging.getLogger("quark")
    memory_size = guest_memory_size(config)
    machine = Machine(memory_size)
    server: QCallServer | None = None
    kernel: Kernel | None = None
    old_handlers: dict[int, object] = {}
    try:
        kernel = Kernel(config, memory_size, log)
        kernel.new_address_space = machine.new_address_space   # type: ignore[attr-defined]
        mm = machine.new_address_space()
        task = kernel.new_init_task(mm)
        entry, rsp = _load_init(task, config)
        server = QCallServer(machine, kernel)
        launcher = TaskLauncher(machine, kernel, server, log)
        kernel.launcher = launcher
        # vCPU kicks interrupt KVM_RUN with this signal; its handler does
        # nothing, and stays installed: a late kick must never kill the process.
        signal.signal(KICK_SIGNAL, lambda *_: None)
        for sig in FORWARDED_SIGNALS:
            old_handlers[sig] = signal.signal(sig, _forwarder(kernel))
        server.start()
        init_done = threading.Event()
        kernel.on_init_exit = init_done.set       # type: ignore[attr-defined]
        with kernel.lock:
            launcher.start(task, UserRegs(rip=entry, rsp=rsp), None)
        while not init_done.wait(0.2):
            pass
        if launcher.crash is not None:
            raise launcher.crash
        assert kernel.init_tg is not None
        return exit_code_of(kernel.init_tg.group_exit_status or 0)
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)        # type: ignore[arg-type]
        if kernel is not None:
            with kernel.lock:
                kernel.shutting_down = True
                for tg in list(kernel.thread_groups.values()):
                    if not tg.zombie:
                        kernel.kill_group(tg, 9)
        if server is not None:
            server.stop()
        if kernel is not None:
            timers = getattr(kernel, "timers", None)
            if timers is not None and hasattr(timers, "stop"):
                with kernel.lock:              # its condition is bound to the kernel lock
                    timers.stop()
            kernel.vfs.close()
        machine.close()


def _load_init(task: object, config: KernelConfig) -> tuple[int, int]:
    """Load PID 1's program; SandboxError (one line) when it cannot be run."""
    from qkernel.loader.init import load_init_program
    argv0 = config.args[0]
    try:
        return load_init_program(task, config)
    except ExecFormatError as exc:
        raise SandboxError(f"exec {argv0}: exec format error: {exc.reason}", 126) from None
    except SyscallError as exc:
        status = 127 if exc.errno == errno.ENOENT else 126
        raise SandboxError(f"exec {argv0}: {os.strerror(exc.errno)}", status) from None


def _forwarder(kernel: Kernel):  # type: ignore[no-untyped-def]
    def forward(signo: int, _frame: object) -> None:
        with kernel.lock:
            kernel.forward_host_signal(signo)
    return forward
