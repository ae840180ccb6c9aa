"""A vCPU and the loop that runs a task on it.

KVM_RUN and everything between two entries that does not need QKernel is C
(qvisor/native). Exits reach Python for: a QCall the poller handed over (or
the guest's spin ran out), an exception from the ring-0 stubs, a kick (a
signal or the group's death), and anything unexpected, which stops the task
with registers and the faulting instructions in the error.

After a syscall served here, the task goes back to user mode by loading its
user context into the vCPU directly (not through the trampoline's return):
that is also how execve, sigreturn and signal frames take effect.
"""
from __future__ import annotations

import errno
import signal
import struct
import threading
import time

from generated import qcall as qc
from qkernel import signals
from qkernel.arch import GPR_NAMES, UserRegs, sanitize_rflags
from qkernel.kernel import Kernel, TaskExit
from qkernel.task import Task
from qvisor import layout
from qvisor.kvm import ffi, lib
from qvisor.machine import Machine

ARG_FIELDS = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5")
PTE_ENTRY_SIZE = 24
PTE_LIST_CAPACITY = (layout.PTE_LIST_SIZE - 8) // PTE_ENTRY_SIZE
KICK_SIGNAL = signal.SIGUSR2
XSAVE_SIZE = 4096

# Signal a user-mode exception raises, with its si_code (Linux's mapping of x86 vectors).
VECTOR_SIGNAL = {0: (signal.SIGFPE, 1), 1: (signal.SIGTRAP, 1), 3: (signal.SIGTRAP, 0x80),
                 4: (signal.SIGSEGV, 0x80), 5: (signal.SIGSEGV, 0x80), 6: (signal.SIGILL, 2),
                 7: (signal.SIGSEGV, 0x80), 10: (signal.SIGSEGV, 0x80), 11: (signal.SIGBUS, 0x80),
                 12: (signal.SIGBUS, 0x80), 13: (signal.SIGSEGV, 0x80), 14: (signal.SIGSEGV, 1),
                 16: (signal.SIGFPE, 0), 17: (signal.SIGBUS, 1), 19: (signal.SIGFPE, 0)}
EXIT_NAMES = {getattr(lib, n): n for n in dir(lib) if n.startswith("KVM_EXIT_")
              and n not in ("KVM_EXIT_IO_IN", "KVM_EXIT_IO_OUT")}


class GuestCrash(Exception):
    """QKernel cannot continue the guest: a bug or an unexpected exit."""


class VcpuRunner:
    """One vCPU; runs one task at a time (CpuControl for that task)."""

    def __init__(self, machine: Machine, kernel: Kernel, index: int) -> None:
        self.machine = machine
        self.kernel = kernel
        self.index = index
        self.handle, self.res = machine.create_vcpu(index)
        self.run_area = self.handle.run
        self.sync = self.handle.sync
        self.task: Task | None = None
        self.thread_ident = 0
        self.owner = 0
        self._clean_xsave = self.get_xsave_ioctl()
        self._flush_left: list[tuple[int, int, int]] = []
        self._flush_return = 0
        self._pending_regs: UserRegs | None = None
        self._syscall_ctx: tuple[int, int] | None = None     # (user rip, rflags) of the current syscall
        self._in_kvm = False

    # ---- binding a task ------------------------------------------------------
    def load(self, task: Task, regs: UserRegs, xsave: bytes | None) -> None:
        """Make this vCPU run `task` from `regs` (called on the task's thread)."""
        self.task = task
        task.cpu = self
        self.thread_ident = lib.qv_thread_self()      # pthread id, for kicks
        self.owner = threading.get_ident()             # the host thread running the task
        self.run_area.kvm_valid_regs = 0
        self.run_area.kvm_dirty_regs = 0
        self.run_area.immediate_exit = 0
        kregs = self.handle.get_regs()
        for name in GPR_NAMES:
            setattr(kregs, name, getattr(regs, name))
        kregs.rip = regs.rip
        kregs.rflags = sanitize_rflags(regs.rflags)
        self.handle.set_regs(kregs)
        sregs = self.handle.get_sregs()
        sregs.cr3 = task.mm.pt.root
        sregs.fs.base = regs.fs_base
        sregs.gs.base = regs.gs_base
        self.handle.set_sregs(sregs)
        self.set_xsave_ioctl(xsave if xsave is not None else self._clean_xsave)
        self.run_area.kvm_valid_regs = lib.KVM_SYNC_X86_REGS | lib.KVM_SYNC_X86_SREGS
        clock_id = time.pthread_getcpuclockid(threading.get_ident())
        task.extra["cpu_clock"] = (clock_id, time.clock_gettime_ns(clock_id))

    def unload(self) -> None:
        if self.task is not None:
            self.task.cpu = None
        self.task = None

    # ---- CpuControl ---------------------------------------------------------------
    def set_fs_base(self, value: int) -> None:
        self.sync.sregs.fs.base = value
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_SREGS

    def set_gs_base(self, value: int) -> None:
        self.sync.sregs.gs.base = value
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_SREGS

    def user_regs(self) -> UserRegs:
        """The task's user context at the return of the syscall being served."""
        r, s = self.sync.regs, self.sync.sregs
        regs = UserRegs(**{n: getattr(r, n) for n in GPR_NAMES}, rip=r.rip, rflags=r.rflags,
                        fs_base=s.fs.base, gs_base=s.gs.base)
        if self._syscall_ctx is not None:
            rip, rflags = self._syscall_ctx
            regs.rip, regs.rflags, regs.rcx, regs.r11 = rip, rflags, rip, rflags
        return regs

    def set_user_regs(self, regs: UserRegs) -> None:
        self._pending_regs = regs.copy()

    def set_address_space(self, mm: object) -> None:
        self.sync.sregs.cr3 = mm.pt.root          # type: ignore[attr-defined]
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_SREGS

    def get_xsave_ioctl(self) -> bytes:
        buf = ffi.new("char[]", XSAVE_SIZE)
        r = lib.qv_ioctl(self.handle.fd, lib.KVM_GET_XSAVE, buf)
        if r < 0:
            raise GuestCrash(f"KVM_GET_XSAVE: {errno.errorcode.get(-r, r)}")
        return bytes(ffi.buffer(buf, XSAVE_SIZE))

    def set_xsave_ioctl(self, data: bytes) -> None:
        buf = ffi.new("char[]", data[:XSAVE_SIZE].ljust(XSAVE_SIZE, b"\0"))
        r = lib.qv_ioctl(self.handle.fd, lib.KVM_SET_XSAVE, buf)
        if r < 0:
            raise GuestCrash(f"KVM_SET_XSAVE: {errno.errorcode.get(-r, r)}")

    def get_xsave(self) -> bytes:
        return self.get_xsave_ioctl()

    def set_xsave(self, data: bytes) -> None:
        self.set_xsave_ioctl(data)

    def kick(self) -> None:
        """Bring the task out of guest mode soon (a signal, or its group is dying).
        Its own thread is not in KVM_RUN while it asks, so it is not kicked."""
        if self.thread_ident and threading.get_ident() != self.owner:
            lib.qv_kick(self.run_area, self.thread_ident, KICK_SIGNAL)

    # ---- the loop --------------------------------------------------------------------
    def run(self) -> None:
        """Run the task until it exits (TaskExit propagates) or the guest crashes."""
        task = self.task
        assert task is not None
        while True:
            if task.tg.exiting or task.extra.get("exec_killed"):
                raise TaskExit(task.tg.group_exit_status or 9)
            r = lib.qv_run(self.handle.fd, self.run_area)
            if r < 0:
                if -r == errno.EINTR:
                    self.run_area.immediate_exit = 0
                    self._on_kick()
                    continue
                raise GuestCrash(f"KVM_RUN failed: {errno.errorcode.get(-r, -r)}\n{self.dump()}")
            if r == lib.KVM_EXIT_IO and self.handle.io.direction == lib.KVM_EXIT_IO_OUT:
                port = self.handle.io.port
                if port == qc.PORT_QCALL:
                    self._on_qcall()
                    continue
                if port == qc.PORT_EXCEPTION:
                    self._on_exception()
                    continue
            if r == lib.KVM_EXIT_INTR:
                self.run_area.immediate_exit = 0
                self._on_kick()
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

    # ---- syscalls that exit -------------------------------------------------------------
    def _on_qcall(self) -> None:
        m, res = self.machine, self.res
        seq = m.slot_read(res, "req_seq")
        lib.qv_poller_wake()       # the guest had to exit: the poller may be asleep
        if not lib.qv_claim(self.index, seq):
            lib.qv_wait_answered(self.index, seq)
            if m.slot_read(res, "kind") != qc.KIND_EXIT:
                self._return_from_answered()
                return
        self._serve_here(seq)

    def _serve_here(self, seq: int) -> None:
        m, res, task = self.machine, self.res, self.task
        assert task is not None
        nr = m.slot_read(res, "nr")
        args = tuple(m.slot_read(res, f) for f in ARG_FIELDS)
        self._syscall_ctx = (m.slot_read(res, "rip"), m.slot_read(res, "rflags"))
        self._pending_regs = None
        try:
            result = self.kernel.syscall(task, nr, args)   # TaskExit propagates
        finally:
            m.slot_write(res, "kind", qc.KIND_RETURN)
        m.slot_write(res, "result", result)
        lib.qv_publish(self.index, seq)
        if self._pending_regs is not None:
            regs, restart_nr = self._pending_regs, None
            self._pending_regs = None
        else:
            regs = self.user_regs()
            regs.rax = result & 0xFFFFFFFFFFFFFFFF
            restart_nr = nr
        self._syscall_ctx = None
        self._resume_user(regs, restart_nr)

    def _return_from_answered(self) -> None:
        """The poller answered while we were out: finish the return here."""
        m, res = self.machine, self.res
        self._syscall_ctx = (m.slot_read(res, "rip"), m.slot_read(res, "rflags"))
        regs = self.user_regs()
        regs.rax = m.slot_read(res, "result")
        self._syscall_ctx = None
        self._resume_user(regs, None)

    def _resume_user(self, regs: UserRegs, restart_nr: int | None) -> None:
        """Load `regs` as the task's user context, after delivering signals."""
        task = self.task
        assert task is not None
        if restart_nr is not None and regs.rax >= 1 << 63:
            regs.rax -= 1 << 64        # signals see the signed result
        with self.kernel.lock:
            if signals.has_deliverable(task) or restart_nr is not None:
                regs = signals.deliver_signals(task, regs, restart_nr)
        self._load_regs(regs)
        self._start_flush_if_needed()

    def _load_regs(self, regs: UserRegs) -> None:
        r, s = self.sync.regs, self.sync.sregs
        for name in GPR_NAMES:
            setattr(r, name, getattr(regs, name) & 0xFFFFFFFFFFFFFFFF)
        r.rip = regs.rip
        r.rflags = sanitize_rflags(regs.rflags)
        dirty = lib.KVM_SYNC_X86_REGS
        if s.fs.base != regs.fs_base or s.gs.base != regs.gs_base:
            s.fs.base, s.gs.base = regs.fs_base, regs.gs_base
            dirty |= lib.KVM_SYNC_X86_SREGS
        self.run_area.kvm_dirty_regs |= dirty

    # ---- page-table reductions the guest must store itself ---------------------
    def _start_flush_if_needed(self) -> None:
        task = self.task
        assert task is not None
        queue, frames = task.mm.take_flush()
        if not queue:
            self.machine.frames.free(frames)
            return
        self._flush_left = queue
        self._write_flush_chunk()
        # Nothing runs in this address space before the flush stub, so the
        # frames can go back to the allocator now.
        self.machine.frames.free(frames)
        self._flush_return = self.sync.regs.rip
        self.sync.regs.rip = self.machine.trampoline_label(self.res, "flush_doorbell")
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
        self.machine.memory.write(self.res.pte_list_pa, struct.pack(f"<{len(words)}Q", *words))

    # ---- exceptions ------------------------------------------------------------------
    def _exception_frame(self) -> tuple[int, tuple[int, ...]]:
        frame_pa = self.sync.regs.rsp - layout.PHYSMAP_BASE
        lo = self.res.kstack_pa + 8
        hi = self.res.kstack_pa + layout.KSTACK_SIZE - 56
        if not lo <= frame_pa <= hi:
            raise GuestCrash(f"exception stub with a bad kernel stack\n{self.dump()}")
        return frame_pa, struct.unpack_from("<7Q", self.machine.memory.view, frame_pa)

    def _on_exception(self) -> None:
        frame_pa, (vector, error, rip, cs, rflags, user_rsp, _ss) = self._exception_frame()
        if cs & 3 != 3:
            raise GuestCrash(f"exception {vector} in ring 0 at {rip:#x} (error {error:#x})\n"
                             f"{self.dump()}")
        doorbell = self.machine.trampoline_label(self.res, "flush_doorbell")
        if vector == 6 and rip == doorbell and (self._flush_return or self._flush_left):
            if self._flush_left:
                self._write_flush_chunk()       # iretq lands on the doorbell again
            else:
                self.machine.memory.write_u64(frame_pa + 16, self._flush_return)
                self._flush_return = 0
            self.sync.regs.rip = self.machine.exceptions.labels["pte_flush"]
            self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_REGS
            return
        task = self.task
        assert task is not None
        if vector == 14 and not error & 1:
            with self.kernel.lock:
                grown = task.mm.grow_stack(self.sync.sregs.cr2, task.limits.get(3)[0])
            if grown:
                return                      # iretq retries the access on the new pages
        signo, code = VECTOR_SIGNAL.get(vector, (signal.SIGSEGV, 0x80))
        addr = self.sync.sregs.cr2 if vector == 14 else rip
        if vector == 14:
            code = 2 if error & 1 else 1        # SEGV_ACCERR (present page) / SEGV_MAPERR
        self.kernel.log.info("task %d: exception %d at %#x (error %#x, addr %#x): %s\n%s",
                             task.tid, vector, rip, error, addr, signal.Signals(signo).name,
                             self._disassemble_user(rip))
        r, s = self.sync.regs, self.sync.sregs
        regs = UserRegs(**{n: getattr(r, n) for n in GPR_NAMES}, rip=rip, rflags=rflags,
                        fs_base=s.fs.base, gs_base=s.gs.base)
        regs.rsp = user_rsp
        with self.kernel.lock:
            signals.force_signal(self.kernel, task, signo, code, addr, trapno=vector, err=error)
            regs = signals.deliver_signals(task, regs, None)
        # Back to user mode through the stub's iretq, into whatever `regs` says.
        for name in GPR_NAMES:
            if name != "rsp":
                setattr(r, name, getattr(regs, name) & 0xFFFFFFFFFFFFFFFF)
        struct.pack_into("<Q", self.machine.memory.view, frame_pa + 16, regs.rip)
        struct.pack_into("<Q", self.machine.memory.view, frame_pa + 32, sanitize_rflags(regs.rflags))
        struct.pack_into("<Q", self.machine.memory.view, frame_pa + 40, regs.rsp)
        self.run_area.kvm_dirty_regs |= lib.KVM_SYNC_X86_REGS

    # ---- kicks ------------------------------------------------------------------------
    def _on_kick(self) -> None:
        task = self.task
        assert task is not None
        if task.tg.exiting or task.extra.get("exec_killed"):
            raise TaskExit(task.tg.group_exit_status or 9)
        r, s = self.sync.regs, self.sync.sregs
        if s.cs.selector & 3 != 3:
            self._rekick_later()               # inside a ring-0 stub: let it finish
            return
        base = self.res.trampoline_va
        labels = self.machine.trampoline.labels
        in_trampoline = base <= r.rip < base + layout.PAGE_SIZE
        if in_trampoline:
            offset = r.rip - base
            spin = labels["spin"] - self.machine.trampoline.va
            answered = labels["answered"] - self.machine.trampoline.va
            if not spin <= offset < answered:
                self._rekick_later()            # posting or returning: let it move on
                return
            seq = self.machine.slot_read(self.res, "req_seq")
            if not lib.qv_claim(self.index, seq):
                lib.qv_wait_answered(self.index, seq)
                if self.machine.slot_read(self.res, "kind") != qc.KIND_EXIT:
                    self._return_from_answered()
                    return
            self._serve_here(seq)
            return
        with self.kernel.lock:
            if not signals.has_deliverable(task):
                return
            regs = UserRegs(**{n: getattr(r, n) for n in GPR_NAMES}, rip=r.rip,
                            rflags=r.rflags, fs_base=s.fs.base, gs_base=s.gs.base)
            regs = signals.deliver_signals(task, regs, None)
        self._load_regs(regs)

    def _rekick_later(self) -> None:
        timer = threading.Timer(0.002, self.kick)
        timer.daemon = True
        timer.start()

    # ---- diagnostics ---------------------------------------------------------------------
    def _disassemble_user(self, rip: int, length: int = 32) -> str:
        task = self.task
        if task is None:
            return ""
        for n in (length, 1):
            try:
                return _disassemble(task.mm.copy_in(rip, n), rip)
            except Exception:  # noqa: BLE001 - unmapped: nothing to show
                continue
        return f"  <no code mapped at {rip:#x}>"

    def dump(self) -> str:
        r, s = self.sync.regs, self.sync.sregs
        names = GPR_NAMES + ("rip", "rflags")
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
