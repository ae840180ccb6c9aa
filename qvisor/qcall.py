"""The host side of QCall: the poller thread's entry into QKernel.

The C poller (qvisor/native) calls `qv_serve_slot` once per request it
claimed. A request that needs vCPU state, or whose handler would block
(MustExit), is answered with kind=exit: the guest then exits and the vCPU
thread serves it. cffi needs one module-level callback; it reaches the one
QCallServer of this sandbox process through `_active`.
"""
from __future__ import annotations

import logging

from qkernel.errors import MustExit
from qkernel.kernel import Kernel, TaskExit
from qkernel.task import Task
from qvisor.kvm import ffi, lib
from generated import qcall as qc
from qvisor.machine import Machine

KIND_RETURN = qc.KIND_RETURN
KIND_EXIT = qc.KIND_EXIT
ARG_FIELDS = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5")


class QCallServer:
    def __init__(self, machine: Machine, kernel: Kernel) -> None:
        self.machine = machine
        self.kernel = kernel
        self.tasks: dict[int, Task] = {}     # slot index -> task running on that vCPU

    def attach(self, index: int, task: Task) -> None:
        self.tasks[index] = task
        lib.qv_set_slot_layout(0, 1)          # req_seq and done_seq words (spec/qcall)
        lib.qv_slot_register(index, self.machine.memory.host_addr + self.machine.slot_pa)

    def start(self) -> None:
        global _active
        _active = self
        lib.qv_poller_start(qc.POLLER_IDLE_SPIN_US * 1000)

    def stop(self) -> None:
        global _active
        lib.qv_poller_stop()
        _active = None

    def serve(self, index: int, seq: int) -> None:
        m = self.machine
        task = self.tasks[index]
        nr = m.slot_read("nr")
        kind, result = KIND_EXIT, 0
        if not self.kernel.needs_vcpu(nr):
            args = tuple(m.slot_read(f) for f in ARG_FIELDS)
            try:
                with self.kernel.serving_in_poller():
                    result = self.kernel.syscall(task, nr, args)
                kind = KIND_RETURN
            except (MustExit, TaskExit):
                kind = KIND_EXIT
        m.slot_write("result", result)
        m.slot_write("kind", kind)
        lib.qv_publish(index, seq)


_active: QCallServer | None = None


@ffi.def_extern()
def qv_serve_slot(index: int, seq: int) -> None:
    server = _active
    try:
        if server is None:
            return
        server.serve(index, seq)
    except BaseException:  # noqa: BLE001 - never unwind into C: hand it to the vCPU thread
        logging.getLogger("quark").exception("QCall poller failed; handing the request over")
        if server is not None:
            server.machine.slot_write("kind", KIND_EXIT)
            lib.qv_publish(index, seq)
