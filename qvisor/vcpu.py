"""The vCPU loop: enter the guest, act on each exit, until the task ends.

KVM_RUN and everything between two entries that does not need QKernel is
C (qvisor/native). Exits reach Python for: a QCall the poller handed over
(or the guest's spin ran out), an exception from the ring-0 stubs, and
anything unexpected, which stops the sandbox with registers and the
faulting instructions in the error.
"""
from __future__ import annotations

import errno
import signal
import struct
import threading
import time

from qkernel.kernel import Kernel, TaskExit
from qkernel.task import Task
from qvisor import layout
from qvisor.kvm import ffi, lib
from generated import qcall as qc
from qvisor.machine import Machine

KIND_RETURN = qc.KIND_RETURN
KIND_EXIT = qc.KIND_EXIT
PORT_QCALL = qc.PORT_QCALL
PORT_EXCEPTION = qc.PORT_EXCEPTION
ARG_FIELDS = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5")
PTE_ENTRY_SIZE = 24
PTE_LIST_CAPACITY = (layout.PTE_LIST_SIZE - 8) // PTE_ENTRY_SIZE

# Signal a user-mode exception raises (Linux's mapping of x86 vectors).
VECTOR_SIGNAL = {0: signal.SIGFPE, 1: signal.SIGTRAP, 3: signal.SIGTRAP, 4: signal.SIGSEGV,
                 5: signal.SIGSEGV, 6: signal.SIGILL, 7: signal.SIGSEGV, 10: signal.SIGSEGV,
                 11: signal.SIGBUS, 12: signal.SIGBUS, 13: signal.SIGSEGV, 14: signal.SIGSEGV,
                 16: signal.SIGFPE, 17: signal.SIGBUS, 19: signal.SIGFPE}
EXIT_NAMES = {getattr(lib, n): n for n in dir(lib) if n.startswith("KVM_EXIT_")
              and n not in ("KVM_EXIT_IO_IN", "KVM_EXIT_IO_OUT")}


class GuestCrash(Exception):
    """QKernel cannot continue the guest: a bug or an unexpected exit."""


class VcpuRunner:
    def __init__(self, machine: Machine, kernel: Kernel, task: Task, index: int = 0) -> None:
        self.machine = machine
        self.kernel = kernel
        self.task = task
        self.index = index
        self.handle = machine.vm.create_vcpu(index)
        machine.setup_vcpu(self.handle, task.mm.pt.root)
        self.run_area = self.handle.run
        self.sync = self.handle.sync
        self.run_area.kvm_valid_regs = lib.KVM_SYNC_X86_REGS | lib.KVM_SYNC_X86_SREGS
        self.labels = machine.trampoline.labels
        self.stub_labels = machine.exceptions.labels
        self._flush_left: list[tuple[int, int, int]] = []

    # ---- CpuControl (called by handlers on this thread) -------------------
    def set_fs_base(self, task: Task, value: int) -> None:
        self.sync.sregs.fs.base = value
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_SREGS

    def set_gs_base(self, task: Task, value: int) -> None:
        self.sync.sregs.gs.base = value
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_SREGS

    # ---- running ---------------------------------------------------------------
    def start(self, entry: int, rsp: int) -> None:
        regs = self.handle.get_regs()
        for name in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10",
                     "r11", "r12", "r13", "r14", "r15"):
            setattr(regs, name, 0)
        regs.rip, regs.rsp, regs.rflags = entry, rsp, 0x202
        self.handle.set_regs(regs)
        # The task's CPU time is this thread's from now on (guest time included).
        clock_id = time.pthread_getcpuclockid(threading.get_ident())
        self.task.extra["cpu_clock"] = (clock_id, time.clock_gettime_ns(clock_id))

    def run(self) -> None:
        """Run until the task exits (TaskExit propagates) or the guest crashes."""
        while True:
            r = lib.qv_run(self.handle.fd, self.run_area)
            if r < 0:
                if -r == errno.EINTR:
                    self.run_area.immediate_exit = 0
                    continue
                raise GuestCrash(f"KVM_RUN failed: {errno.errorcode.get(-r, -r)}\n{self.dump()}")
            if r == lib.KVM_EXIT_IO and self.handle.io.direction == lib.KVM_EXIT_IO_OUT:
                port = self.handle.io.port
                if port == PORT_QCALL:
                    self._on_qcall()
                    continue
                if port == PORT_EXCEPTION:
                    self._on_exception()
                    continue
            if r == lib.KVM_EXIT_INTR:
                continue
            raise GuestCrash(f"unexpected VM exit {EXIT_NAMES.get(r, r)}"
                             f"{self._exit_detail(r)}\n{self.dump()}")

    def _exit_detail(self, reason: int) -> str:
        if reason == lib.KVM_EXIT_IO:
            return f" (port {self.handle.io.port:#x})"
        if reason == lib.KVM_EXIT_FAIL_ENTRY:
            return f" (hardware reason {lib.qv_run_hw_reason(self.run_area):#x})"
        if reason == lib.KVM_EXIT_INTERNAL_ERROR:
            return f" (suberror {lib.qv_run_suberror(self.run_area)})"
        return ""

    # ---- QCall fallback ----------------------------------------------------------
    def _on_qcall(self) -> None:
        m = self.machine
        seq = m.slot_read("req_seq")
        lib.qv_poller_wake()       # the guest had to exit: the poller may be asleep
        if not lib.qv_claim(self.index, seq):
            lib.qv_wait_answered(self.index, seq)
            if m.slot_read("kind") != KIND_EXIT:
                return              # answered meanwhile: the trampoline picks it up
        nr = m.slot_read("nr")
        args = tuple(m.slot_read(f) for f in ARG_FIELDS)
        result = self.kernel.syscall(self.task, nr, args)   # TaskExit propagates
        m.slot_write("result", result)
        m.slot_write("kind", KIND_RETURN)
        lib.qv_publish(self.index, seq)
        self._start_flush_if_needed()

    # ---- page-table reductions the guest must store itself ---------------------
    def _start_flush_if_needed(self) -> None:
        queue, frames = self.task.mm.take_flush()
        if not queue:
            self.machine.frames.free(frames)
            return
        self._flush_left = queue
        self._write_flush_chunk()
        # Nothing runs in this address space before the flush stub, so the
        # frames can go back to the allocator now.
        self.machine.frames.free(frames)
        self.sync.regs.rip = self.labels["flush_doorbell"]
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_REGS

    def _write_flush_chunk(self) -> None:
        chunk = self._flush_left[:PTE_LIST_CAPACITY]
        self._flush_left = self._flush_left[PTE_LIST_CAPACITY:]
        words = [len(chunk)]
        read = self.machine.memory.read_u64
        for pte_pa, _queued, va in chunk:
            # The entry's value now, not when it was queued: a later mapping
            # (MAP_FIXED over the range) may already have refilled it.
            words += [layout.kva(pte_pa), read(pte_pa), va]
        self.machine.memory.write(layout.PTE_LIST_PA, struct.pack(f"<{len(words)}Q", *words))

    # ---- exceptions ------------------------------------------------------------------
    def _on_exception(self) -> None:
        regs = self.sync.regs
        frame_pa = regs.rsp - layout.PHYSMAP_BASE
        if not layout.KSTACK_PA <= frame_pa <= layout.KSTACK_TOP_PA - 56:
            raise GuestCrash(f"exception stub with a bad kernel stack\n{self.dump()}")
        vector, error, rip, cs, rflags, user_rsp, _ss = struct.unpack_from(
            "<7Q", self.machine.memory.view, frame_pa)
        if cs & 3 != 3:
            raise GuestCrash(f"exception {vector} in ring 0 at {rip:#x} (error {error:#x})\n"
                             f"{self.dump()}")
        if vector == 6 and rip == self.labels["flush_doorbell"]:
            if self._flush_left:
                self._write_flush_chunk()       # iretq lands on the doorbell again
            else:
                self.machine.memory.write_u64(frame_pa + 16, self.labels["answered"])
            regs.rip = self.stub_labels["pte_flush"]
            self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_REGS
            return
        signo = VECTOR_SIGNAL.get(vector, signal.SIGSEGV)
        cr2 = self.sync.sregs.cr2
        self.kernel.log.info("task %d: exception %d at %#x (error %#x, cr2 %#x): %s\n%s",
                             self.task.tid, vector, rip, error, cr2, signal.Signals(signo).name,
                             self._disassemble_user(rip))
        self.kernel.kill_by_signal(self.task, signo)

    # ---- diagnostics ---------------------------------------------------------------------
    def _disassemble_user(self, rip: int, length: int = 32) -> str:
        try:
            code = self.task.mm.copy_in(rip, length)
        except Exception:  # noqa: BLE001 - unmapped: nothing to show
            try:
                code = self.task.mm.copy_in(rip, 1)
            except Exception:  # noqa: BLE001
                return f"  <no code mapped at {rip:#x}>"
        return _disassemble(code, rip)

    def dump(self) -> str:
        r, s = self.sync.regs, self.sync.sregs
        names = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
                 "r11", "r12", "r13", "r14", "r15", "rip", "rflags")
        lines = ["registers:"]
        for i in range(0, len(names), 4):
            lines.append("  " + "  ".join(f"{n}={getattr(r, n):#018x}" for n in names[i:i + 4]))
        lines.append(f"  cs={s.cs.selector:#x} ss={s.ss.selector:#x} cr2={s.cr2:#x} "
                     f"cr3={s.cr3:#x} fs.base={s.fs.base:#x}")
        rip = r.rip
        if rip >= layout.PHYSMAP_BASE and rip - layout.PHYSMAP_BASE < self.machine.memory.size:
            lines.append(_disassemble(self.machine.memory.read(rip - layout.PHYSMAP_BASE, 32), rip))
        else:
            lines.append(self._disassemble_user(rip))
        return "\n".join(lines)


def _disassemble(code: bytes, address: int, count: int = 6) -> str:
    import capstone   # only for diagnostics: keep it off the start-up path
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    out = [f"  {i.address:#x}: {i.mnemonic} {i.op_str}" for i in md.disasm(code, address)][:count]
    return "\n".join(out) if out else f"  {address:#x}: <undecodable {code[:16].hex()}>"
