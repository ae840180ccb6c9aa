"""The host side of QCall: the poller thread's entry into QKernel.

The C poller (qvisor/native) calls `qv_serve_slot` once per request it
claimed. A request that needs vCPU state, whose handler would block
(MustExit), or whose task has a signal to take, is answered with kind=exit:
the guest then exits and the task's own thread serves it. cffi needs one
module-level callback; it reaches the one QCallServer of this sandbox
process through `_active`.
"""
from __future__ import annotations

import logging
import threading

from generated import qcall as qc
from qkernel import signals
from qkernel.errors import MustExit
from qkernel.kernel import Kernel, TaskExit
from qkernel.task import Task
from qvisor.kvm import ffi, lib
from qvisor.machine import Machine, VcpuResources

ARG_FIELDS = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5")


class QCallServer:
    def __init__(self, machine: Machine, kernel: Kernel) -> None:
        self.machine = machine
        self.kernel = kernel
        self.slots: dict[int, tuple[VcpuResources, Task]] = {}
        self._lock = threading.Lock()

    def attach(self, index: int, res: VcpuResources, task: Task) -> None:
        with self._lock:
            self.slots[index] = (res, task)
        if lib.qv_slot_register(index, self.machine.memory.host_addr + res.slot_pa) != 0:
            raise RuntimeError(f"QCall slot {index} cannot be registered")

    def detach(self, index: int) -> None:
        with self._lock:
            self.slots.pop(index, None)

    def start(self) -> None:
        global _active
        _active = self
        lib.qv_set_slot_layout(qc.SLOT_REQ_SEQ // 8, qc.SLOT_DONE_SEQ // 8, qc.SLOT_POLLER_AWAKE // 8)
        lib.qv_poller_start(qc.POLLER_IDLE_SPIN_US * 1000)

    def stop(self) -> None:
        global _active
        lib.qv_poller_stop()
        _active = None

    def serve(self, index: int, seq: int) -> None:
        m = self.machine
        entry = self.slots.get(index)
        if entry is None:
            return
        res, task = entry
        nr = m.slot_read(res, "nr")
        kind, result = qc.KIND_EXIT, 0
        if not self.kernel.needs_vcpu(nr) and not _must_exit(task):
            args = tuple(m.slot_read(res, f) for f in ARG_FIELDS)
            try:
                with self.kernel.serving_in_poller():
                    result = self.kernel.syscall(task, nr, args)
                kind = qc.KIND_RETURN
            except (MustExit, TaskExit):
                kind = qc.KIND_EXIT
        m.slot_write(res, "result", result)
        m.slot_write(res, "kind", kind)
        lib.qv_publish(index, seq)
        if kind == qc.KIND_RETURN and _must_exit(task) and task.cpu is not None:
            task.cpu.kick()                # a signal came meanwhile: its thread delivers it


def _must_exit(task: Task) -> bool:
    return task.tg.exiting or signals.has_deliverable(task)


_active: QCallServer | None = None


@ffi.def_extern()
def qv_serve_slot(index: int, seq: int) -> None:
    server = _active
    try:
        if server is not None:
            server.serve(index, seq)
    except BaseException:  # noqa: BLE001 - never unwind into C: hand it to the vCPU thread
        logging.getLogger("quark").exception("QCall poller failed; handing the request over")
        if server is not None:
            entry = server.slots.get(index)
            if entry is not None:
                server.machine.slot_write(entry[0], "kind", qc.KIND_EXIT)
            lib.qv_publish(index, seq)
