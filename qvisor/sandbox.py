"""Runs one container: build the VM and the kernel, load PID 1, run it.

`run_sandbox` returns the container's exit status (the code, or 128+N when
its init was killed by signal N). Errors about the container itself (its
program cannot be found or is not an x86-64 ELF) are SandboxError with one
line for the user; anything else is a quark bug.
"""
from __future__ import annotations

import errno
import logging
import os

from qkernel.config import KernelConfig
from qkernel.errors import SyscallError
from qkernel.exec import find_program, read_executable
from qkernel.kernel import Kernel, TaskExit
from qkernel.loader.elf import ExecFormatError, load_elf
from qkernel.loader.stack import build_stack
from qvisor.machine import Machine
from qvisor.qcall import QCallServer
from qvisor.vcpu import VcpuRunner

DEFAULT_MEMORY = 4 << 30
MIN_MEMORY = 64 << 20
# AT_HWCAP as Linux reports it on x86-64 (CPUID.1:EDX of a modern CPU).
HWCAP_X86_64 = 0x178BFBFF


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
    try:
        kernel = Kernel(config, memory_size, log)
        mm = machine.new_address_space()
        task = kernel.new_init_task(mm)
        argv0 = config.args[0]
        try:
            path = find_program(task, argv0, config.env)
            data = read_executable(task, path)
            image = load_elf(mm, data)
        except ExecFormatError as exc:
            raise SandboxError(f"exec {argv0}: exec format error: {exc.reason}", 126) from None
        except SyscallError as exc:
            status = 127 if exc.errno == errno.ENOENT else 126
            reason = os.strerror(exc.errno)
            raise SandboxError(f"exec {argv0}: {reason}", status) from None
        mm.brk_start = mm.brk = image.brk_start
        task.exe_path = path
        task.comm = os.path.basename(path).encode()[:15]
        ids = (task.creds.uid, task.creds.euid, task.creds.gid, task.creds.egid)
        rsp = build_stack(mm, image, [a.encode() for a in config.args],
                          [e.encode() for e in config.env], path.encode(), ids, HWCAP_X86_64)
        runner = VcpuRunner(machine, kernel, task)
        kernel.cpu = runner
        server = QCallServer(machine, kernel)
        server.attach(0, task)
        server.start()
        runner.start(image.entry, rsp)
        try:
            runner.run()
        except TaskExit as exit_:
            return exit_.exit_code
        return 0
    finally:
        if server is not None:
            server.stop()
        if kernel is not None:
            kernel.vfs.close()
        machine.close()
