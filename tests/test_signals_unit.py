"""Signals without a VM: a real Kernel and AddressSpace, a stand-in vCPU."""
from __future__ import annotations

import errno
import struct
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qkernel.arch import UserRegs
from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.errors import MustExit, SyscallError
from qkernel.kernel import ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS
from qkernel.kernel import Kernel, TaskExit
from qkernel.signals import deliver_signals, force_signal, has_deliverable, send_signal
from qkernel.signals import fpstate
from qkernel.signals.consts import (
    SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO, SI_TKILL,
    SI_USER, SIG_IGN, SIGCHLD, SIGCONT, SIGKILL, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2,
    SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, sigbit,
)
from qkernel.signals.frame import FRAME_SIZE, SIGINFO_OFF, UCONTEXT_OFF
from qkernel.signals.siginfo import SigInfo
from qkernel.syscalls import signal as sc
from qkernel.task import SignalAction, Task
from qkernel.threadgroup import ThreadGroup
from tests.memory import BASE, FlatMemory

U64 = (1 << 64) - 1
STACK_TOP = BASE + 0xF0000
HANDLER, RESTORER = 0x401000, 0x402000
NR_READ = 0


class FakeCpu:
    """What deliver/sigreturn ask of a vCPU: the user context and XSAVE area."""

    def __init__(self) -> None:
        self.regs = UserRegs()
        area = bytearray(fpstate.init_area())
        area[160:160 + 16] = bytes(range(16))              # XMM0
        area[576:576 + 16] = bytes(range(100, 116))        # YMM0 upper half
        struct.pack_into("<Q", area, 512, 0x7)             # x87 | SSE | AVX in use
        self.xsave = bytes(area)
        self.kicks = 0

    def user_regs(self) -> UserRegs:
        return self.regs.copy()

    def set_user_regs(self, regs: UserRegs) -> None:
        self.regs = regs.copy()

    def get_xsave(self) -> bytes:
        return self.xsave

    def set_xsave(self, data: bytes) -> None:
        assert len(data) == fpstate.KVM_XSAVE_SIZE
        self.xsave = bytes(data)

    def kick(self) -> None:
        self.kicks += 1


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """Tests run as handlers do: with the kernel lock held."""
    k = Kernel(KernelConfig(rootfs=str(tmp_path), args=["/init"]), 64 << 20)
    k.xcr0 = 0x7                      # x87, SSE, AVX: a frame layout independent of the host
    k.new_init_task(FlatMemory())
    with k.lock:
        yield k


def new_process(kernel: Kernel, cpu: bool = True) -> Task:
    """A process other than init (init ignores default actions)."""
    init = kernel.tasks[1]
    pid = kernel.alloc_pid()
    tg = ThreadGroup(pid=pid, parent=init.tg, pgid=pid, sid=init.sid)
    init.tg.children.append(tg)
    t = Task(kernel=kernel, mm=FlatMemory(1 << 20), fds=None, fs=None,   # type: ignore[arg-type]
             creds=Credentials(), pid=pid, tid=pid, tg=tg)
    kernel.register(t)
    if cpu:
        t.cpu = FakeCpu()
    return t


def user_regs(**kw: int) -> UserRegs:
    regs = UserRegs(rax=11, rbx=22, rcx=33, rdx=44, rsi=55, rdi=66, rsp=STACK_TOP - 0x1003,
                    rbp=77, r8=8, r9=9, r10=10, r11=0x246, r12=12, r13=13, r14=14, r15=15,
                    rip=0x400123, rflags=0x246 | 0x400)
    for k, v in kw.items():
        setattr(regs, k, v)
    return regs


def handle(t: Task, signo: int, flags: int = SA_RESTORER | SA_SIGINFO, mask: int = 0) -> None:
    t.tg.sigactions[signo] = SignalAction(HANDLER, flags, RESTORER, mask)


def err(fn: Any, *args: Any) -> int:
    with pytest.raises(SyscallError) as e:
        fn(*args)
    return e.value.errno


def sigreturn_from(t: Task, frame_regs: UserRegs) -> int:
    """What the restorer does: the handler `ret`s (pops pretcode), then rt_sigreturn."""
    assert t.mm.read_u64(frame_regs.rsp) == RESTORER
    t.cpu.regs = frame_regs.copy()
    t.cpu.regs.rsp += 8
    return sc.sys_rt_sigreturn(t)


# ---------------------------------------------------------------- frame layout

def test_frame_layout_and_round_trip(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1, mask=sigbit(SIGUSR2))
    t.sigmask = sigbit(SIGTERM)
    before = user_regs()
    xsave_before = t.cpu.xsave
    send_signal(kernel, t, SIGUSR1, SigInfo(SIGUSR1, code=SI_USER, pid=7, uid=0))
    h = deliver_signals(t, before.copy(), None)
    frame = h.rsp
    assert (frame + 8) % 16 == 0 and frame + FRAME_SIZE <= before.rsp - 128
    assert (h.rip, h.rdi, h.rsi, h.rdx, h.rax) == (HANDLER, SIGUSR1, frame + SIGINFO_OFF,
                                                   frame + UCONTEXT_OFF, 0)
    assert h.rflags & 0x400 == 0                                   # DF cleared
    assert t.sigmask == sigbit(SIGTERM) | sigbit(SIGUSR2) | sigbit(SIGUSR1)
    mm = t.mm
    uc = frame + UCONTEXT_OFF
    assert mm.read_u64(uc) == 7                                    # UC_FP_XSTATE|SS|STRICT
    mc = uc + 40
    assert mm.read_u64(mc + 13 * 8) == 11 and mm.read_u64(mc + 16 * 8) == 0x400123   # rax, rip
    assert mm.read_u64(mc + 15 * 8) == before.rsp
    assert struct.unpack("<4H", mm.copy_in(mc + 144, 8)) == (0x33, 0, 0, 0x2B)
    assert mm.read_u64(uc + 296) == sigbit(SIGTERM)                # uc_sigmask
    assert mm.read_u64(mc + 168) == sigbit(SIGTERM)                # oldmask
    info = mm.copy_in(frame + SIGINFO_OFF, 128)
    assert struct.unpack_from("<iiiiiI", info) == (SIGUSR1, 0, SI_USER, 0, 7, 0)
    fp = mm.read_u64(mc + 184)
    assert fp % 64 == 0 and fp >= frame + FRAME_SIZE
    size = fpstate.xstate_size(0x7)
    assert size == 832
    assert struct.unpack_from("<IIQI", mm.copy_in(fp + 464, 20)) == (
        fpstate.FP_XSTATE_MAGIC1, size + 4, 0x7, size)
    assert mm.read_u32(fp + size) == fpstate.FP_XSTATE_MAGIC2
    assert mm.copy_in(fp + 160, 16) == bytes(range(16))
    assert mm.copy_in(fp + 576, 16) == bytes(range(100, 116))
    assert fp + size + 4 <= before.rsp - 128
    # The handler starts with a clean FPU ...
    assert t.cpu.xsave[160:176] == bytes(16)
    # ... and sigreturn puts everything back.
    t.cpu.xsave = bytes(fpstate.init_area())
    rax = sigreturn_from(t, h)
    assert rax == 11
    assert t.cpu.regs == before
    assert t.sigmask == sigbit(SIGTERM)
    assert t.cpu.xsave[:464] == xsave_before[:464]
    assert t.cpu.xsave[576:832] == xsave_before[576:832]
    assert struct.unpack_from("<Q", t.cpu.xsave, 512)[0] == 0x7


def test_sigreturn_sanitizes_and_restores_mask(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    send_signal(kernel, t, SIGUSR1)
    h = deliver_signals(t, user_regs(), None)
    uc = h.rsp + UCONTEXT_OFF
    t.mm.write_u64(uc + 40 + 136, (1 << 12) | (3 << 12) | 0x100)     # IOPL and TF in eflags
    t.mm.write_u64(uc + 296, U64)                                    # mask: everything
    fp = t.mm.read_u64(uc + 40 + 184)
    t.mm.write_u32(fp + 24, 0xFFFFFFFF)                              # MXCSR reserved bits
    sigreturn_from(t, h)
    assert t.cpu.regs.rflags & 0x3000 == 0 and t.cpu.regs.rflags & 0x202 == 0x202
    assert t.sigmask == U64 & ~(sigbit(SIGKILL) | sigbit(SIGSTOP))
    assert struct.unpack_from("<I", t.cpu.xsave, 24)[0] == 0xFFFF


def test_sigreturn_without_magic_restores_fxsave_only(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    send_signal(kernel, t, SIGUSR1)
    h = deliver_signals(t, user_regs(), None)
    fp = t.mm.read_u64(h.rsp + UCONTEXT_OFF + 40 + 184)
    t.mm.write_u32(fp + 464, 0)                                      # no magic1
    sigreturn_from(t, h)
    assert t.cpu.xsave[160:176] == bytes(range(16))
    assert struct.unpack_from("<Q", t.cpu.xsave, 512)[0] == 0x3      # AVX back to init


def test_bad_frame_sigreturn_segv(kernel: Kernel) -> None:
    t = new_process(kernel)
    t.cpu.regs = user_regs(rsp=8)                                    # unmapped
    sc.sys_rt_sigreturn(t)
    with pytest.raises(TaskExit) as e:
        deliver_signals(t, t.cpu.regs, 15)
    assert e.value.wait_status & 0x7F == SIGSEGV


def test_bad_stack_kills_with_segv(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    send_signal(kernel, t, SIGUSR1)
    with pytest.raises(TaskExit) as e:
        deliver_signals(t, user_regs(rsp=0x5000), None)
    assert e.value.wait_status & 0x7F == SIGSEGV


def test_no_restorer_kills_with_segv(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1, flags=SA_SIGINFO)
    send_signal(kernel, t, SIGUSR1)
    with pytest.raises(TaskExit) as e:
        deliver_signals(t, user_regs(), None)
    assert e.value.wait_status & 0x7F == SIGSEGV


def test_two_signals_nest(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    handle(t, SIGUSR2)
    send_signal(kernel, t, SIGUSR2)
    send_signal(kernel, t, SIGUSR1)
    h = deliver_signals(t, user_regs(), None)
    assert h.rdi == SIGUSR2                     # set up last, runs first
    inner_saved_rip = t.mm.read_u64(h.rsp + UCONTEXT_OFF + 40 + 128)
    assert inner_saved_rip == HANDLER           # returns into SIGUSR1's handler
    assert not has_deliverable(t)


# ---------------------------------------------------------------- flags

def test_resethand_nodefer(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1, flags=SA_RESTORER | SA_RESETHAND | SA_NODEFER)
    send_signal(kernel, t, SIGUSR1)
    deliver_signals(t, user_regs(), None)
    assert t.sigmask == 0
    assert t.tg.sigactions[SIGUSR1].handler == 0


def test_altstack(kernel: Kernel) -> None:
    t = new_process(kernel)
    ss = BASE + 0x20000
    t.cpu.regs = user_regs()
    t.mm.copy_out(BASE + 0x100, struct.pack("<QiiQ", ss, 0, 0, 0x8000))
    assert sc.sys_sigaltstack(t, BASE + 0x100, BASE + 0x200) == 0
    assert struct.unpack("<QiiQ", t.mm.copy_in(BASE + 0x200, 24)) == (0, SS_DISABLE, 0, 0)
    handle(t, SIGUSR1, flags=SA_RESTORER | SA_ONSTACK)
    send_signal(kernel, t, SIGUSR1)
    h = deliver_signals(t, user_regs(), None)
    assert ss < h.rsp < ss + 0x8000
    uc = h.rsp + UCONTEXT_OFF
    assert struct.unpack("<QiiQ", t.mm.copy_in(uc + 16, 24)) == (ss, 0, 0, 0x8000)
    # On the stack: reported SS_ONSTACK, cannot be changed.
    t.cpu.regs = h
    assert sc.sys_sigaltstack(t, 0, BASE + 0x200) == 0
    assert struct.unpack("<QiiQ", t.mm.copy_in(BASE + 0x200, 24))[1] == SS_ONSTACK
    assert err(sc.sys_sigaltstack, t, BASE + 0x100, 0) == errno.EPERM
    # A nested signal stays on the alternate stack, below the first frame.
    send_signal(kernel, t, SIGUSR1)
    t.sigmask = 0
    h2 = deliver_signals(t, h, None)
    assert ss < h2.rsp < h.rsp
    sigreturn_from(t, h2)
    sigreturn_from(t, h)
    assert t.cpu.regs.rsp == user_regs().rsp


def test_altstack_errors_and_autodisarm(kernel: Kernel) -> None:
    t = new_process(kernel)
    t.cpu.regs = user_regs()
    a = BASE + 0x100
    t.mm.copy_out(a, struct.pack("<QiiQ", BASE + 0x20000, 0, 0, 1024))
    assert err(sc.sys_sigaltstack, t, a, 0) == errno.ENOMEM
    t.mm.copy_out(a, struct.pack("<QiiQ", BASE + 0x20000, 5, 0, 0x8000))
    assert err(sc.sys_sigaltstack, t, a, 0) == errno.EINVAL
    assert err(sc.sys_sigaltstack, t, 1, 0) == errno.EFAULT
    t.mm.copy_out(a, struct.pack("<QiiQ", BASE + 0x20000, SS_AUTODISARM - (1 << 32), 0, 0x8000))
    assert sc.sys_sigaltstack(t, a, 0) == 0
    handle(t, SIGUSR1, flags=SA_RESTORER | SA_ONSTACK)
    send_signal(kernel, t, SIGUSR1)
    h = deliver_signals(t, user_regs(), None)
    assert t.sigaltstack == (0, SS_DISABLE, 0)          # disarmed while the handler runs
    sigreturn_from(t, h)
    assert t.sigaltstack == (BASE + 0x20000, SS_AUTODISARM, 0x8000)


# ---------------------------------------------------------------- queueing

def test_standard_coalesce_realtime_queue(kernel: Kernel) -> None:
    t = new_process(kernel)
    t.sigmask = sigbit(SIGUSR1) | sigbit(40)
    for _ in range(3):
        send_signal(kernel, t.tg, SIGUSR1)
        send_signal(kernel, t.tg, 40, SigInfo(40, code=-1, value=7))
    assert len(t.tg.shared_pending[SIGUSR1]) == 1
    assert len(t.tg.shared_pending[40]) == 3
    assert not has_deliverable(t)
    t.mm.copy_out(BASE + 0x100, bytes(8))
    assert sc.sys_rt_sigpending(t, BASE + 0x100, 8) == 0
    assert t.mm.read_u64(BASE + 0x100) == sigbit(SIGUSR1) | sigbit(40)
    assert err(sc.sys_rt_sigpending, t, BASE + 0x100, 9) == errno.EINVAL


def test_ignored_discarded_unless_blocked(kernel: Kernel) -> None:
    t = new_process(kernel)
    send_signal(kernel, t, SIGCHLD)                      # default: ignore
    assert not t.pending
    t.tg.sigactions[SIGUSR1] = SignalAction(SIG_IGN)
    send_signal(kernel, t, SIGUSR1)
    assert not t.pending
    t.sigmask = sigbit(SIGUSR1)
    send_signal(kernel, t, SIGUSR1)
    assert SIGUSR1 in t.pending
    # sigaction to SIG_IGN flushes what is pending.
    t.tg.sigactions.pop(SIGUSR1)
    t.mm.copy_out(BASE + 0x100, struct.pack("<4Q", SIG_IGN, SA_RESTORER, RESTORER, 0))
    assert sc.sys_rt_sigaction(t, SIGUSR1, BASE + 0x100, 0, 8) == 0
    assert SIGUSR1 not in t.pending


def test_dequeue_order(kernel: Kernel) -> None:
    t = new_process(kernel)
    for s in (40, 35, SIGUSR2, SIGUSR1):
        handle(t, s)
    t.sigmask = ~0 & ~(sigbit(SIGKILL) | sigbit(SIGSTOP)) & U64
    send_signal(kernel, t.tg, 40)
    send_signal(kernel, t.tg, SIGUSR1)
    send_signal(kernel, t, 35)
    send_signal(kernel, t, SIGUSR2)
    from qkernel.signals.queue import dequeue
    order = [dequeue(t, 0)[0] for _ in range(4)]            # type: ignore[index]
    assert order == [SIGUSR2, 35, SIGUSR1, 40]


def test_process_directed_picks_unblocking_thread(kernel: Kernel) -> None:
    t = new_process(kernel)
    t2 = Task(kernel=kernel, mm=t.mm, fds=None, fs=None, creds=Credentials(),  # type: ignore[arg-type]
              pid=t.pid, tid=kernel.alloc_pid(), tg=t.tg)
    t2.cpu = FakeCpu()
    kernel.register(t2)
    handle(t, SIGUSR1)
    t.sigmask = sigbit(SIGUSR1)
    send_signal(kernel, t.tg, SIGUSR1)
    assert t2.cpu.kicks == 1 and t.cpu.kicks == 0
    assert has_deliverable(t2) and not has_deliverable(t)


def test_fatal_signal_kills_group_at_once(kernel: Kernel) -> None:
    t = new_process(kernel)
    send_signal(kernel, t.tg, SIGTERM)
    assert t.tg.exiting and t.tg.group_exit_status == SIGTERM
    with pytest.raises(TaskExit):
        deliver_signals(t, user_regs(), None)


def test_init_ignores_default_actions(kernel: Kernel) -> None:
    init = kernel.tasks[1]
    send_signal(kernel, init.tg, SIGTERM)                              # from the host: still immune
    assert sc.sys_kill(init, 1, SIGKILL) == 0                          # from inside: dropped
    assert not init.tg.exiting and not init.tg.shared_pending
    send_signal(kernel, init.tg, SIGKILL)                              # the host's kill -9 works
    assert SIGKILL in init.tg.shared_pending
    with pytest.raises(TaskExit) as e:
        deliver_signals(init, user_regs(), None)
    assert e.value.wait_status == SIGKILL
    init.tg.exiting = False
    init.tg.group_exit_status = None
    # ... but a fault still kills it.
    force_signal(kernel, init, SIGSEGV, 1, 0x10)
    with pytest.raises(TaskExit):
        deliver_signals(init, user_regs(), None)


def test_force_signal_unblocks_and_resets(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGSEGV)
    t.sigmask = sigbit(SIGSEGV)
    force_signal(kernel, t, SIGSEGV, 2, 0xDEAD, trapno=14, err=6)
    assert t.sigmask == 0 and t.tg.sigactions[SIGSEGV].handler == 0
    with pytest.raises(TaskExit):
        deliver_signals(t, user_regs(), None)


def test_fault_handler_sees_addr(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGSEGV)
    force_signal(kernel, t, SIGSEGV, 1, 0xDEAD, trapno=14, err=6)
    h = deliver_signals(t, user_regs(), None)
    info = t.mm.copy_in(h.rsi, 24)
    assert struct.unpack_from("<iiiiQ", info) == (SIGSEGV, 0, 1, 0, 0xDEAD)
    mc = h.rdx + 40
    assert (t.mm.read_u64(mc + 152), t.mm.read_u64(mc + 160), t.mm.read_u64(mc + 176)) == (6, 14, 0xDEAD)


# ---------------------------------------------------------------- restarts

@pytest.mark.parametrize("code,flags,expect_restart", [
    (ERESTARTSYS, SA_RESTART, True), (ERESTARTSYS, 0, False), (ERESTARTNOINTR, 0, True),
    (ERESTARTNOHAND, SA_RESTART, False), (ERESTART_RESTARTBLOCK, SA_RESTART, False),
])
def test_restart_with_handler(kernel: Kernel, code: int, flags: int, expect_restart: bool) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1, flags=SA_RESTORER | flags)
    send_signal(kernel, t, SIGUSR1)
    regs = user_regs(rax=-code & U64)
    h = deliver_signals(t, regs.copy(), NR_READ)
    saved_rax = t.mm.read_u64(h.rdx + 40 + 13 * 8)
    saved_rip = t.mm.read_u64(h.rdx + 40 + 16 * 8)
    if expect_restart:
        assert (saved_rax, saved_rip) == (NR_READ, regs.rip - 2)
    else:
        assert (saved_rax, saved_rip) == (-errno.EINTR & U64, regs.rip)


@pytest.mark.parametrize("code,rax,back", [
    (ERESTARTSYS, NR_READ, 2), (ERESTARTNOINTR, NR_READ, 2), (ERESTARTNOHAND, NR_READ, 2),
    (ERESTART_RESTARTBLOCK, -errno.EINTR & U64, 0),
])
def test_restart_without_handler(kernel: Kernel, code: int, rax: int, back: int) -> None:
    t = new_process(kernel)
    regs = user_regs(rax=-code & U64)
    out = deliver_signals(t, regs.copy(), NR_READ)
    assert (out.rax, out.rip) == (rax, regs.rip - back)
    # Not a syscall return: rax is left alone.
    out = deliver_signals(t, regs.copy(), None)
    assert out.rax == regs.rax


def test_sigreturn_result_is_not_restarted(kernel: Kernel) -> None:
    t = new_process(kernel)
    regs = user_regs(rax=-ERESTARTSYS & U64)
    out = deliver_signals(t, regs.copy(), 15)
    assert out == regs


# ---------------------------------------------------------------- job control

def test_stop_and_continue(kernel: Kernel) -> None:
    t = new_process(kernel)
    parent = kernel.tasks[1]
    handle(parent, SIGCHLD)
    send_signal(kernel, t.tg, SIGSTOP)
    done = threading.Event()

    def run() -> None:
        with kernel.lock:
            deliver_signals(t, user_regs(), None)
        done.set()

    th = threading.Thread(target=run)
    with kernel.unlocked():
        th.start()
        for _ in range(100):
            with kernel.lock:
                if t.tg.stopped:
                    break
            time.sleep(0.01)
        with kernel.lock:
            assert t.tg.stopped and t.tg.wait_events == [("stopped", SIGSTOP)]
            info = parent.tg.shared_pending[SIGCHLD][0]
            assert (info.code, info.pid, info.status) == (5, t.pid, SIGSTOP)
            assert not done.is_set()
            send_signal(kernel, t.tg, SIGCONT)
        th.join(2)
    assert done.is_set() and not t.tg.stopped
    assert t.tg.wait_events[-1] == ("continued", SIGCONT)


def test_stopped_task_dies_on_sigkill(kernel: Kernel) -> None:
    t = new_process(kernel)
    send_signal(kernel, t.tg, SIGSTOP)
    result: list[BaseException] = []

    def run() -> None:
        try:
            with kernel.lock:
                deliver_signals(t, user_regs(), None)
        except TaskExit as exc:
            result.append(exc)

    th = threading.Thread(target=run)
    with kernel.unlocked():
        th.start()
        time.sleep(0.05)
        with kernel.lock:
            send_signal(kernel, t.tg, SIGKILL)
        th.join(2)
    assert result and result[0].wait_status == SIGKILL


def test_stop_discards_cont_and_back(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGCONT)
    t.sigmask = sigbit(SIGCONT) | sigbit(20)
    send_signal(kernel, t.tg, SIGCONT)
    send_signal(kernel, t.tg, 20)                # SIGTSTP
    assert SIGCONT not in t.tg.shared_pending and 20 in t.tg.shared_pending
    send_signal(kernel, t.tg, SIGCONT)
    assert 20 not in t.tg.shared_pending and SIGCONT in t.tg.shared_pending


# ---------------------------------------------------------------- syscalls

A = BASE + 0x100
B = BASE + 0x800


def test_sigaction_and_mask(kernel: Kernel) -> None:
    task = new_process(kernel)
    task.mm.copy_out(A, struct.pack("<4Q", 0x401000, 0x04000000 | 0x400, 0x402000, (1 << 8) | 1))
    assert sc.sys_rt_sigaction(task, 2, A, B, 8) == 0
    assert struct.unpack("<4Q", task.mm.copy_in(B, 32)) == (0, 0, 0, 0)
    assert sc.sys_rt_sigaction(task, 2, 0, B, 8) == 0
    assert struct.unpack("<4Q", task.mm.copy_in(B, 32)) == (0x401000, 0x04000000, 0x402000, 1)
    assert err(sc.sys_rt_sigaction, task, 9, A, 0, 8) == errno.EINVAL
    assert sc.sys_rt_sigaction(task, 9, 0, B, 8) == 0
    assert err(sc.sys_rt_sigaction, task, 65, 0, B, 8) == errno.EINVAL
    assert err(sc.sys_rt_sigaction, task, 0, 0, B, 8) == errno.EINVAL
    assert err(sc.sys_rt_sigaction, task, 2, 0, B, 4) == errno.EINVAL
    task.mm.write_u64(A, (1 << 8) | (1 << 18) | 1)         # KILL, STOP, HUP
    assert sc.sys_rt_sigprocmask(task, 0, A, B, 8) == 0
    assert task.sigmask == 1 and task.mm.read_u64(B) == 0
    assert sc.sys_rt_sigprocmask(task, 1, A, 0, 8) == 0 and task.sigmask == 0
    assert err(sc.sys_rt_sigprocmask, task, 7, A, 0, 8) == errno.EINVAL
    assert sc.sys_rt_sigprocmask(task, 7, 0, B, 8) == 0
    assert err(sc.sys_rt_sigprocmask, task, 0, A, 0, 16) == errno.EINVAL


def test_unblock_from_poller_moves_to_vcpu(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    t.sigmask = sigbit(SIGUSR1)
    send_signal(kernel, t, SIGUSR1)
    t.mm.write_u64(A, sigbit(SIGUSR1))
    with kernel.serving_in_poller():
        with pytest.raises(MustExit):
            sc.sys_rt_sigprocmask(t, 1, A, 0, 8)
        assert t.sigmask == sigbit(SIGUSR1)
        with pytest.raises(MustExit):
            sc.sys_kill(t, t.pid, SIGUSR2)
    assert sc.sys_rt_sigprocmask(t, 1, A, 0, 8) == 0 and has_deliverable(t)


def test_kill_variants(kernel: Kernel) -> None:
    t = new_process(kernel)
    other = new_process(kernel)
    handle(t, SIGUSR1)
    handle(other, SIGUSR1)
    assert sc.sys_kill(t, other.pid, 0) == 0
    assert err(sc.sys_kill, t, 999, 0) == errno.ESRCH
    assert err(sc.sys_kill, t, 999, 65) == errno.ESRCH        # lookup first, as Linux
    assert err(sc.sys_kill, t, other.pid, 65) == errno.EINVAL
    assert err(sc.sys_kill, t, -(1 << 31), SIGUSR1) == errno.ESRCH
    assert err(sc.sys_kill, t, -4242, SIGUSR1) == errno.ESRCH
    assert sc.sys_kill(t, other.pid, SIGUSR1) == 0
    info = other.tg.shared_pending[SIGUSR1][0]
    assert (info.code, info.pid) == (SI_USER, t.pid)
    other.tg.pgid = t.pgid
    assert sc.sys_kill(t, 0, SIGUSR1) == 0                     # own group: both
    assert SIGUSR1 in t.tg.shared_pending
    t.tg.shared_pending.clear()
    other.tg.shared_pending.clear()
    assert sc.sys_kill(t, -1, SIGUSR1) == 0                    # all but init and self
    assert SIGUSR1 in other.tg.shared_pending and not t.tg.shared_pending
    assert not kernel.tasks[1].tg.shared_pending


def test_kill_permission(kernel: Kernel) -> None:
    t = new_process(kernel)
    other = new_process(kernel)
    t.creds = Credentials.for_user(1000, 1000)
    assert err(sc.sys_kill, t, other.pid, SIGUSR1) == errno.EPERM
    assert err(sc.sys_kill, t, other.pid, 0) == errno.EPERM
    other.creds = Credentials.for_user(1000, 1000)
    assert sc.sys_kill(t, other.pid, 0) == 0


def test_tkill_tgkill_sigqueue(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    handle(t, 40)
    assert err(sc.sys_tkill, t, 0, SIGUSR1) == errno.EINVAL
    assert err(sc.sys_tkill, t, 9999, SIGUSR1) == errno.ESRCH
    assert sc.sys_tkill(t, t.tid, SIGUSR1) == 0
    assert t.pending[SIGUSR1][0].code == SI_TKILL
    assert err(sc.sys_tgkill, t, t.pid + 100, t.tid, SIGUSR1) == errno.ESRCH
    assert err(sc.sys_tgkill, t, 0, t.tid, SIGUSR1) == errno.EINVAL
    raw = struct.pack("<iiiiiIQ", 0, 0, -1, 0, 1234, 5, 0xABCD).ljust(128, b"\0")
    t.mm.copy_out(A, raw)
    assert sc.sys_rt_sigqueueinfo(t, t.pid, 40, A) == 0
    packed = t.tg.shared_pending[40][0].pack()
    assert struct.unpack_from("<iiiiiIQ", packed) == (40, 0, -1, 0, 1234, 5, 0xABCD)
    other = new_process(kernel)
    t.mm.copy_out(A, struct.pack("<iii", 0, 0, 0).ljust(128, b"\0"))     # claims SI_USER
    assert err(sc.sys_rt_sigqueueinfo, t, other.pid, 40, A) == errno.EPERM
    assert err(sc.sys_rt_sigqueueinfo, t, t.pid, 40, 1) == errno.EFAULT
    assert sc.sys_rt_tgsigqueueinfo(t, t.pid, t.tid, 40, A) == 0
    assert 40 in t.pending


def test_sigtimedwait(kernel: Kernel) -> None:
    t = new_process(kernel)
    t.sigmask = sigbit(SIGUSR1) | sigbit(40)
    t.mm.write_u64(A, sigbit(SIGUSR1) | sigbit(40))
    t.mm.copy_out(B, struct.pack("<qq", 0, 0))
    assert err(sc.sys_rt_sigtimedwait, t, A, 0, B, 8) == errno.EAGAIN
    t.mm.copy_out(B, struct.pack("<qq", 0, 20_000_000))
    t0 = time.monotonic()
    assert err(sc.sys_rt_sigtimedwait, t, A, 0, B, 8) == errno.EAGAIN
    assert time.monotonic() - t0 >= 0.015
    assert t.sigmask == sigbit(SIGUSR1) | sigbit(40)
    t.mm.copy_out(B, struct.pack("<qq", 0, 1_000_000_000))
    assert err(sc.sys_rt_sigtimedwait, t, A, 0, B, 8) == errno.EINVAL
    send_signal(kernel, t, 40, SigInfo(40, code=-1, value=9))
    send_signal(kernel, t, SIGUSR1, SigInfo(SIGUSR1, code=SI_USER, pid=3))
    assert sc.sys_rt_sigtimedwait(t, A, B + 64, 0, 8) == SIGUSR1
    assert struct.unpack_from("<iiiii", t.mm.copy_in(B + 64, 20)) == (SIGUSR1, 0, 0, 0, 3)
    assert sc.sys_rt_sigtimedwait(t, A, 0, 0, 8) == 40
    # Woken by a signal sent while waiting.
    def later() -> None:
        time.sleep(0.05)
        with kernel.lock:
            send_signal(kernel, t.tg, SIGUSR1)
    th = threading.Thread(target=later)
    th.start()
    assert sc.sys_rt_sigtimedwait(t, A, 0, 0, 8) == SIGUSR1
    with kernel.unlocked():
        th.join()


def test_sigsuspend(kernel: Kernel) -> None:
    t = new_process(kernel)
    handle(t, SIGUSR1)
    t.sigmask = sigbit(SIGUSR1)
    t.mm.write_u64(A, 0)

    def later() -> None:
        time.sleep(0.05)
        with kernel.lock:
            send_signal(kernel, t, SIGUSR1)
    th = threading.Thread(target=later)
    th.start()
    assert err(sc.sys_rt_sigsuspend, t, A, 8) == ERESTARTNOHAND
    assert t.saved_sigmask == sigbit(SIGUSR1) and t.sigmask == 0
    h = deliver_signals(t, user_regs(rax=-ERESTARTNOHAND & U64), 130)
    with kernel.unlocked():
        th.join()
    assert t.mm.read_u64(h.rdx + 296) == sigbit(SIGUSR1)         # the frame keeps the old mask
    assert t.mm.read_u64(h.rdx + 40 + 13 * 8) == -errno.EINTR & U64
    assert t.saved_sigmask is None
    sigreturn_from(t, h)
    assert t.sigmask == sigbit(SIGUSR1)


def test_saved_mask_restored_without_handler(kernel: Kernel) -> None:
    t = new_process(kernel)
    t.saved_sigmask = 5
    t.sigmask = 0
    deliver_signals(t, user_regs(), None)
    assert t.sigmask == 5 and t.saved_sigmask is None


def test_siginfo_layouts() -> None:
    chld = SigInfo(SIGCHLD, code=1, pid=5, uid=6, status=7, utime=8, stime=9).pack()
    assert struct.unpack_from("<iiiiiIiiqq", chld) == (SIGCHLD, 0, 1, 0, 5, 6, 7, 0, 8, 9)
    timer = SigInfo(14, code=-2, tid=3, overrun=4, value=5).pack()
    assert struct.unpack_from("<iiiiiiQ", timer) == (14, 0, -2, 0, 3, 4, 5)
    assert len(chld) == len(timer) == 128
