"""Host threads for guest tasks, and the vCPUs they run on.

Every guest task gets a host thread of its own and a vCPU while it lives:
blocking in a syscall is plain blocking on that thread, and the host
scheduler time-slices CPU-bound tasks. vCPUs cannot be destroyed one by
one in KVM, so an exited task's vCPU goes back to a pool for the next task.
"""
from __future__ import annotations

import _thread
import errno
import logging
import threading

from qkernel.arch import UserRegs
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel, TaskExit
from qkernel.task import Task
from qvisor import layout
from qvisor.machine import Machine
from qvisor.qcall import QCallServer
from qvisor.vcpu import GuestCrash, VcpuRunner


class VcpuPool:
    def __init__(self, machine: Machine, kernel: Kernel) -> None:
        self.machine = machine
        self.kernel = kernel
        self.free: list[VcpuRunner] = []
        self.created = 0
        self._lock = threading.Lock()

    def acquire(self) -> VcpuRunner:
        with self._lock:
            if self.free:
                return self.free.pop()
            if self.created >= layout.MAX_VCPUS:
                raise SyscallError(errno.EAGAIN, "no vCPU left for a new task")
            index = self.created
            self.created += 1
        runner = VcpuRunner(self.machine, self.kernel, index)
        self.kernel.vcpu_count = max(self.kernel.vcpu_count, self.created)
        return runner

    def release(self, runner: VcpuRunner) -> None:
        runner.unload()
        with self._lock:
            self.free.append(runner)


class TaskLauncher:
    """kernel.launcher: starts tasks on host threads."""

    def __init__(self, machine: Machine, kernel: Kernel, server: QCallServer,
                 log: logging.Logger) -> None:
        self.machine = machine
        self.kernel = kernel
        self.server = server
        self.pool = VcpuPool(machine, kernel)
        self.log = log
        self.crash: BaseException | None = None

    def start(self, task: Task, regs: UserRegs, xsave: bytes | None) -> None:
        runner = self.pool.acquire()
        task.cpu = runner                      # kicks reach it before it runs
        runner.task = task
        # _thread, not threading.Thread: start() would wait for the new thread
        # to report in (~1 ms under load), and nothing here needs that.
        _thread.start_new_thread(self._run, (task, runner, regs, xsave))

    def _run(self, task: Task, runner: VcpuRunner, regs: UserRegs, xsave: bytes | None) -> None:
        try:
            runner.load(task, regs, xsave)
            self.server.attach(runner.index, runner.res, task)
            runner.run()
        except TaskExit:
            pass
        except GuestCrash as exc:
            self.log.error("task %d: %s", task.tid, exc)
            self._fail(task, exc)
        except BaseException as exc:  # noqa: BLE001 - a quark bug: stop the sandbox, loudly
            self.log.exception("task %d: internal error", task.tid)
            self._fail(task, exc)
        finally:
            self.server.detach(runner.index)
            with self.kernel.lock:
                self.kernel.task_exited(task)
            self.pool.release(runner)

    def _fail(self, task: Task, exc: BaseException) -> None:
        if self.crash is None:
            self.crash = exc
        with self.kernel.lock:
            self.kernel.kill_group(task.tg, 9)
            if self.kernel.init_tg is not None:
                self.kernel.kill_group(self.kernel.init_tg, 9)
