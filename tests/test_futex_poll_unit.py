"""futex, poll/select, pipes, host streams, sleeps and sched calls, against a
real Kernel (no KVM needed) with host threads standing in for guest tasks.

Every handler runs with kernel.lock held, as the dispatcher does."""
from __future__ import annotations

import errno
import os
import struct
import threading
import time
from typing import Any, Callable

import pytest

from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.errors import MustExit, SyscallError
from qkernel.futex import (FUTEX_OWNER_DIED, FUTEX_WAITERS, futex_wake_for_exit, table)
from qkernel.kernel import ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTSYS, Kernel
from qkernel.mm.address_space import AddressSpace
from qkernel.mm.vma import MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE
from qkernel.syscalls import fs, futex as sfutex, poll as spoll, sched, time as stime
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup
from qkernel.vfs import abi
from qkernel.vfs.build import initial_fs_context
from qkernel.vfs.fdtable import FdTable
from qkernel.vfs.hostfile import HostStream
from tests.memory import FlatMemory

SIGUSR1 = 10
SIGPIPE = 13


@pytest.fixture
def kernel(tmp_path):
    (tmp_path / "root").mkdir()
    k = Kernel(KernelConfig(rootfs=str(tmp_path / "root"), args=["/x"]), 64 << 20)
    yield k
    k.shutting_down = True
    k.vfs.close()


def new_task(kernel: Kernel, mm: Any = None, tid: int | None = None, tg: ThreadGroup | None = None) -> Task:
    pid = kernel.alloc_pid() if tid is None else tid
    if tg is None:
        tg = ThreadGroup(pid=pid, parent=None, pgid=pid, sid=pid)
    t = Task(kernel=kernel, mm=mm or FlatMemory(), fds=FdTable(),
             fs=initial_fs_context(kernel.vfs, kernel.config), creds=Credentials(),
             pid=tg.pid, tid=pid, tg=tg)
    kernel.register(t)
    return t


@pytest.fixture
def task(kernel):
    return new_task(kernel)


def call(task: Task, fn: Callable[..., int], *args: int) -> int:
    """Run a handler as the dispatcher does: lock held, errors as -errno."""
    with task.kernel.lock:
        try:
            return fn(task, *args)
        except SyscallError as e:
            return -e.errno


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    th = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    th.start()
    return th, out


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.005)


def signal(task: Task, signo: int) -> None:
    from qkernel.signals import send_signal
    with task.kernel.lock:
        send_signal(task.kernel, task, signo)


def catch(task: Task, signo: int) -> None:
    """Install a handler so the signal is not fatal/ignored."""
    from qkernel.task import SignalAction
    task.tg.sigactions[signo] = SignalAction(handler=0x1000)


def waiters(kernel: Kernel) -> int:
    return sum(len(q) for q in table(kernel).queues.values())


# ---------------------------------------------------------------- futex

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, PRIVATE, REALTIME = 9, 10, 0x80, 0x100


def ts(task: Task, sec: int, nsec: int) -> int:
    return task.mm.alloc(struct.pack("<qq", sec, nsec))


def test_futex_wait_eagain_and_timeout(task):
    f = task.mm.alloc(struct.pack("<I", 5))
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT | PRIVATE, 4, 0, 0, 0) == -errno.EAGAIN
    t0 = time.monotonic()
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT, 5, ts(task, 0, 30_000_000), 0, 0) \
        == -errno.ETIMEDOUT
    assert time.monotonic() - t0 >= 0.029
    assert waiters(task.kernel) == 0
    assert call(task, sfutex.sys_futex, f + 1, FUTEX_WAIT, 5, 0, 0, 0) == -errno.EINVAL
    assert call(task, sfutex.sys_futex, 8, FUTEX_WAIT, 5, 0, 0, 0) == -errno.EFAULT
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT, 5, ts(task, 0, 2_000_000_000), 0, 0) \
        == -errno.EINVAL
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT_BITSET, 5, 0, 0, 0) == -errno.EINVAL
    assert call(task, sfutex.sys_futex, f, FUTEX_WAKE | REALTIME, 1, 0, 0, 0) == -errno.ENOSYS
    assert call(task, sfutex.sys_futex, f, 6, 0, 0, 0, 0) == -errno.ENOSYS      # LOCK_PI


def test_futex_wake_across_threads(kernel, task):
    other = new_task(kernel, mm=task.mm, tg=task.tg, tid=kernel.alloc_pid())
    f = task.mm.alloc(struct.pack("<I", 0))
    th, out = in_thread(lambda: call(task, sfutex.sys_futex, f, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0))
    wait_for(lambda: waiters(kernel) == 1)
    assert call(other, sfutex.sys_futex, f, FUTEX_WAKE, 1, 0, 0, 0) == 1   # shared op meets private key
    th.join(5)
    assert out == [0] and waiters(kernel) == 0
    assert call(other, sfutex.sys_futex, f, FUTEX_WAKE, 1, 0, 0, 0) == 0


def test_futex_bitset_and_absolute_timeout(kernel, task):
    f = task.mm.alloc(struct.pack("<I", 7))
    th, out = in_thread(lambda: call(task, sfutex.sys_futex, f, FUTEX_WAIT_BITSET, 7, 0, 0, 0b01))
    wait_for(lambda: waiters(kernel) == 1)
    assert call(task, sfutex.sys_futex, f, FUTEX_WAKE_BITSET, 1, 0, 0, 0b10) == 0
    assert call(task, sfutex.sys_futex, f, FUTEX_WAKE_BITSET, 1, 0, 0, 0b11) == 1
    th.join(5)
    assert out == [0]
    # Absolute deadlines: in the past on both clocks -> ETIMEDOUT at once.
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT_BITSET, 7, ts(task, 0, 1), 0, ~0) \
        == -errno.ETIMEDOUT
    now = time.time()
    t0 = time.monotonic()
    abs_ts = ts(task, int(now + 0.05), int((now + 0.05) % 1 * 1e9))
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT_BITSET | REALTIME, 7, abs_ts, 0, ~0) \
        == -errno.ETIMEDOUT
    assert 0.03 < time.monotonic() - t0 < 2


def test_futex_requeue_and_cmp_requeue(kernel, task):
    a = task.mm.alloc(struct.pack("<I", 1))
    b = task.mm.alloc(struct.pack("<I", 2))
    threads = [in_thread(lambda: call(task, sfutex.sys_futex, a, FUTEX_WAIT, 1, 0, 0, 0))
               for _ in range(3)]
    wait_for(lambda: waiters(kernel) == 3)
    assert call(task, sfutex.sys_futex, a, FUTEX_CMP_REQUEUE, 1, 1, b, 99) == -errno.EAGAIN
    assert call(task, sfutex.sys_futex, a, FUTEX_CMP_REQUEUE, 1, 1, b, 1) == 2   # 1 woken, 1 moved
    wait_for(lambda: sum(1 for th, _ in threads if not th.is_alive()) == 1)
    assert call(task, sfutex.sys_futex, a, FUTEX_REQUEUE, 0, 5, b, 0) == 1     # the last one moves
    assert call(task, sfutex.sys_futex, a, FUTEX_WAKE, 10, 0, 0, 0) == 0
    assert call(task, sfutex.sys_futex, b, FUTEX_WAKE, 10, 0, 0, 0) == 2
    for th, out in threads:
        th.join(5)
        assert out == [0]
    assert call(task, sfutex.sys_futex, a, FUTEX_REQUEUE, -1, 0, b, 0) == -errno.EINVAL


def test_futex_wake_op(kernel, task):
    a = task.mm.alloc(struct.pack("<I", 0))
    b = task.mm.alloc(struct.pack("<I", 3))
    th, out = in_thread(lambda: call(task, sfutex.sys_futex, b, FUTEX_WAIT, 3, 0, 0, 0))
    wait_for(lambda: waiters(kernel) == 1)
    # op ADD 2 on *b, wake on b if old value (3) > 2.
    encoded = (1 << 28) | (4 << 24) | (2 << 12) | 2
    assert call(task, sfutex.sys_futex, a, FUTEX_WAKE_OP, 1, 1, b, encoded) == 1
    th.join(5)
    assert out == [0] and task.mm.read_u32(b) == 5
    # OPARG_SHIFT: OR (1 << 4); compare old == 0 is false -> no second wake.
    encoded = ((8 | 2) << 28) | (0 << 24) | (4 << 12) | 0
    assert call(task, sfutex.sys_futex, a, FUTEX_WAKE_OP, 1, 1, b, encoded) == 0
    assert task.mm.read_u32(b) == 5 | 16
    assert call(task, sfutex.sys_futex, a, FUTEX_WAKE_OP, 1, 1, b, 7 << 28) == -errno.ENOSYS


def test_futex_shared_mapping_keys_by_frame(kernel, task):
    mm = task.mm
    addr = 0x200000
    mm.map_anonymous(addr, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS)
    # A second address space mapping the same frame elsewhere stands in for
    # a process sharing that memory.
    other = new_task(kernel, mm=AddressSpace(mm.memory, mm.frames))
    frame_pte = mm.pt.get(addr)
    other_addr = 0x300000
    other.mm.map_anonymous(other_addr, 4096, PROT_READ | PROT_WRITE,
                           MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS)
    # Point the other mapping at the first one's frame (what fork does for MAP_SHARED).
    other.mm.pt.write_range(other_addr, [frame_pte])
    mm.write_u32(addr + 8, 1)
    assert other.mm.read_u32(other_addr + 8) == 1
    th, out = in_thread(lambda: call(task, sfutex.sys_futex, addr + 8, FUTEX_WAIT, 1, 0, 0, 0))
    wait_for(lambda: waiters(kernel) == 1)
    assert call(other, sfutex.sys_futex, other_addr + 8, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0
    assert call(other, sfutex.sys_futex, other_addr + 8, FUTEX_WAKE, 1, 0, 0, 0) == 1
    th.join(5)
    assert out == [0]


def test_futex_signal_interrupts_wait(kernel, task):
    catch(task, SIGUSR1)
    f = task.mm.alloc(struct.pack("<I", 0))
    th, out = in_thread(lambda: call(task, sfutex.sys_futex, f, FUTEX_WAIT, 0, 0, 0, 0))
    wait_for(lambda: waiters(kernel) == 1)
    signal(task, SIGUSR1)
    th.join(5)
    assert out == [-ERESTARTSYS] and waiters(kernel) == 0
    # A timed wait reports ERESTARTNOHAND (EINTR for a handler, no restart with a stale timeout).
    assert call(task, sfutex.sys_futex, f, FUTEX_WAIT, 0, ts(task, 5, 0), 0, 0) == -ERESTARTNOHAND


def test_futex_wait_in_poller_must_exit(kernel, task):
    f = task.mm.alloc(struct.pack("<I", 0))
    with kernel.serving_in_poller(), pytest.raises(MustExit):
        call(task, sfutex.sys_futex, f, FUTEX_WAIT, 0, 0, 0, 0)
    assert waiters(kernel) == 0
    with kernel.serving_in_poller():
        assert call(task, sfutex.sys_futex, f, FUTEX_WAIT, 1, 0, 0, 0) == -errno.EAGAIN
        assert call(task, sfutex.sys_futex, f, FUTEX_WAKE, 1, 0, 0, 0) == 0


def test_futex_exit_clears_tid_and_walks_robust_list(kernel, task):
    mm = task.mm
    joiner = new_task(kernel, mm=mm, tg=task.tg, tid=kernel.alloc_pid())
    tid_word = mm.alloc(struct.pack("<I", task.tid))
    # Robust list: head -> lock A (held by task, waiters) -> lock B (held by
    # someone else) -> head; futex word at offset 8 from each entry.
    head = mm.alloc(24)
    ent_a = mm.alloc(16)
    ent_b = mm.alloc(16)
    mm.copy_out(head, struct.pack("<QqQ", ent_a, 8, 0))
    mm.copy_out(ent_a, struct.pack("<QI", ent_b, task.tid | FUTEX_WAITERS))
    mm.copy_out(ent_b, struct.pack("<QI", head, 12345))
    task.robust_list = (head, 24)
    task.clear_child_tid = tid_word
    th1, out1 = in_thread(lambda: call(joiner, sfutex.sys_futex, tid_word, FUTEX_WAIT, task.tid, 0, 0, 0))
    th2, out2 = in_thread(lambda: call(joiner, sfutex.sys_futex, ent_a + 8, FUTEX_WAIT | PRIVATE,
                                       task.tid | FUTEX_WAITERS, 0, 0, 0))
    wait_for(lambda: waiters(kernel) == 2)
    with kernel.lock:
        futex_wake_for_exit(kernel, task)
    th1.join(5)
    th2.join(5)
    assert out1 == [0] and out2 == [0]
    assert mm.read_u32(tid_word) == 0
    assert mm.read_u32(ent_a + 8) == FUTEX_WAITERS | FUTEX_OWNER_DIED
    assert mm.read_u32(ent_b + 8) == 12345
    assert task.clear_child_tid == 0 and task.robust_list == (0, 0)


def test_robust_list_cycle_is_bounded(kernel, task):
    mm = task.mm
    head = mm.alloc(24)
    ent = mm.alloc(16)
    mm.copy_out(head, struct.pack("<QqQ", ent, 8, 0))
    mm.copy_out(ent, struct.pack("<QI", ent, task.tid))      # points at itself
    task.robust_list = (head, 24)
    with kernel.lock:
        futex_wake_for_exit(kernel, task)
    assert mm.read_u32(ent + 8) == FUTEX_OWNER_DIED


# ---------------------------------------------------------------- pipes

def pipe(task: Task, flags: int = 0) -> tuple[int, int]:
    a = task.mm.alloc(8)
    assert call(task, fs.sys_pipe2, a, flags) == 0
    return struct.unpack("<ii", task.mm.copy_in(a, 8))


def rd(task: Task, fd: int, n: int = 100000) -> bytes | int:
    buf = task.mm.alloc(n)
    r = call(task, fs.sys_read, fd, buf, n)
    return r if r < 0 else task.mm.copy_in(buf, r)


def wr(task: Task, fd: int, data: bytes) -> int:
    return call(task, fs.sys_write, fd, task.mm.alloc(data), len(data))


def test_pipe_reader_blocks_until_writer_writes(kernel, task):
    r, w = pipe(task)
    th, out = in_thread(lambda: rd(task, r, 64))
    time.sleep(0.05)
    assert th.is_alive()
    assert not kernel.lock.locked()         # the blocked reader holds no lock
    assert wr(task, w, b"late") == 4
    th.join(5)
    assert out == [b"late"]
    # EOF once the last writer (a dup included) is gone.
    w2 = call(task, fs.sys_dup, w)
    th, out = in_thread(lambda: rd(task, r, 64))
    call(task, fs.sys_close, w)
    time.sleep(0.05)
    assert th.is_alive()
    call(task, fs.sys_close, w2)
    th.join(5)
    assert out == [b""]


def test_pipe_writer_blocks_until_room_and_atomic_writes(kernel, task):
    r, w = pipe(task)
    assert wr(task, w, bytes(65536 - 100)) == 65436
    th, out = in_thread(lambda: wr(task, w, b"x" * 200))      # <= PIPE_BUF: all or nothing
    time.sleep(0.05)
    assert th.is_alive()
    assert len(rd(task, r, 50)) == 50                         # 150 free: still not enough
    time.sleep(0.05)
    assert th.is_alive()
    assert len(rd(task, r, 100)) == 100
    th.join(5)
    assert out == [200]


def test_pipe_epipe_sends_sigpipe_and_nonblock(kernel, task):
    catch(task, SIGPIPE)                         # pid 1 would drop a default-action signal
    r, w = pipe(task, abi.O_NONBLOCK)
    assert rd(task, r) == -errno.EAGAIN
    assert wr(task, w, bytes(70000)) == 65536
    assert wr(task, w, b"x") == -errno.EAGAIN
    call(task, fs.sys_close, r)
    assert wr(task, w, b"x") == -errno.EPIPE
    assert SIGPIPE in task.pending


def test_pipe_counts_survive_fork_of_fd_table(kernel, task):
    r, w = pipe(task)
    child = new_task(kernel)
    child.fds = task.fds.fork()
    call(task, fs.sys_close, w)
    # The child still holds a writer: no EOF yet for a non-blocking look.
    f = task.fds.get(r)
    with kernel.lock:
        assert f.pipe.writers == 1
    call(child, fs.sys_close, w)
    assert rd(task, r) == b""


def test_pipe_read_signal_and_poller(kernel, task):
    catch(task, SIGUSR1)
    r, w = pipe(task)
    with kernel.serving_in_poller(), pytest.raises(MustExit):
        call(task, fs.sys_read, r, task.mm.alloc(8), 8)
    th, out = in_thread(lambda: rd(task, r))
    time.sleep(0.05)
    signal(task, SIGUSR1)
    th.join(5)
    assert out == [-ERESTARTSYS]


def test_pipe_size(kernel, task):
    r, w = pipe(task, abi.O_NONBLOCK)
    f = task.fds.get(w)
    with kernel.lock:
        assert f.set_pipe_size(task, 5000) == 8192
        assert f.pipe_size() == 8192
    assert wr(task, w, bytes(9000)) == 8192
    with kernel.lock, pytest.raises(SyscallError) as ei:
        f.set_pipe_size(task, 4096)
    assert ei.value.errno == errno.EBUSY


# ---------------------------------------------------------------- poll / select

POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x4, 0x8, 0x10, 0x20


def pollfds(task: Task, *entries: tuple[int, int]) -> int:
    return task.mm.alloc(b"".join(struct.pack("<ihh", fd, ev, 0) for fd, ev in entries))


def revents(task: Task, addr: int, n: int) -> list[int]:
    return [struct.unpack_from("<ihh", task.mm.copy_in(addr, 8 * n), 8 * i)[2] for i in range(n)]


def test_poll_readiness_and_timeout(kernel, task):
    r, w = pipe(task)
    p = pollfds(task, (r, POLLIN), (w, POLLOUT), (99, POLLIN), (-1, POLLIN))
    assert call(task, spoll.sys_poll, p, 4, 0) == 2
    assert revents(task, p, 4) == [0, POLLOUT, POLLNVAL, 0]
    t0 = time.monotonic()
    p = pollfds(task, (r, POLLIN))
    assert call(task, spoll.sys_poll, p, 1, 40) == 0
    assert time.monotonic() - t0 >= 0.039
    th, out = in_thread(lambda: call(task, spoll.sys_poll, p, 1, -1))
    time.sleep(0.05)
    assert th.is_alive()
    wr(task, w, b"hi")
    th.join(5)
    assert out == [1] and revents(task, p, 1) == [POLLIN]
    call(task, fs.sys_close, w)
    rd(task, r)
    assert call(task, spoll.sys_poll, p, 1, 0) == 1
    assert revents(task, p, 1) == [POLLHUP]


def test_poll_errors_and_poller(kernel, task):
    r, w = pipe(task)
    assert call(task, spoll.sys_poll, 8, 1, 0) == -errno.EFAULT
    assert call(task, spoll.sys_poll, 0, 1 << 21, 0) == -errno.EINVAL
    p = pollfds(task, (r, POLLIN))
    with kernel.serving_in_poller():
        with pytest.raises(MustExit):
            call(task, spoll.sys_poll, p, 1, 100)
        assert call(task, spoll.sys_poll, p, 1, 0) == 0
    call(task, fs.sys_close, r)
    p = pollfds(task, (w, POLLOUT))
    assert call(task, spoll.sys_poll, p, 1, 0) == 1
    assert revents(task, p, 1) == [POLLOUT | POLLERR]


def test_ppoll_sigmask_and_interrupt(kernel, task):
    catch(task, SIGUSR1)
    r, w = pipe(task)
    p = pollfds(task, (r, POLLIN))
    block_usr1 = task.mm.alloc(struct.pack("<Q", 1 << (SIGUSR1 - 1)))
    unblock = task.mm.alloc(struct.pack("<Q", 0))
    task.sigmask = 1 << (SIGUSR1 - 1)
    signal(task, SIGUSR1)                        # pending but blocked
    tspec = ts(task, 0, 30_000_000)
    assert call(task, spoll.sys_ppoll, p, 1, tspec, block_usr1, 8) == 0
    assert task.sigmask == 1 << (SIGUSR1 - 1)
    assert struct.unpack("<qq", task.mm.copy_in(tspec, 16)) == (0, 0)
    # Unblocked for the wait: the pending signal ends it; the old mask is kept for the handler.
    assert call(task, spoll.sys_ppoll, p, 1, 0, unblock, 8) == -ERESTARTNOHAND
    assert task.sigmask == 0 and task.saved_sigmask == 1 << (SIGUSR1 - 1)
    assert call(task, spoll.sys_ppoll, p, 1, 0, unblock, 7) == -errno.EINVAL


def fdset(task: Task, *fds: int) -> int:
    bits = 0
    for fd in fds:
        bits |= 1 << fd
    return task.mm.alloc(bits.to_bytes(128, "little"))


def getset(task: Task, addr: int) -> list[int]:
    bits = int.from_bytes(task.mm.copy_in(addr, 128), "little")
    return [i for i in range(1024) if bits >> i & 1]


def test_select_and_pselect6(kernel, task):
    r, w = pipe(task)
    rs, ws = fdset(task, r), fdset(task, w)
    tv = task.mm.alloc(struct.pack("<qq", 0, 0))
    assert call(task, spoll.sys_select, max(r, w) + 1, rs, ws, 0, tv) == 1
    assert getset(task, rs) == [] and getset(task, ws) == [w]
    wr(task, w, b"z")
    rs, ws = fdset(task, r), fdset(task, w)
    assert call(task, spoll.sys_select, max(r, w) + 1, rs, ws, 0, 0) == 2
    assert getset(task, rs) == [r] and getset(task, ws) == [w]
    assert call(task, spoll.sys_select, 100, fdset(task, 50), 0, 0, tv) == -errno.EBADF
    assert call(task, spoll.sys_select, -1, 0, 0, 0, tv) == -errno.EINVAL
    # Timeout: written back with the time left (0 after a full timeout).
    rd(task, r)
    rs = fdset(task, r)
    tv = task.mm.alloc(struct.pack("<qq", 0, 30000))
    t0 = time.monotonic()
    assert call(task, spoll.sys_select, r + 1, rs, 0, 0, tv) == 0
    assert time.monotonic() - t0 >= 0.029
    assert struct.unpack("<qq", task.mm.copy_in(tv, 16)) == (0, 0) and getset(task, rs) == []
    # pselect6: woken by a write from another thread; time left written back.
    rs = fdset(task, r)
    tsp = ts(task, 5, 0)
    sig = task.mm.alloc(struct.pack("<QQ", task.mm.alloc(struct.pack("<Q", 0)), 8))
    th, out = in_thread(lambda: call(task, spoll.sys_pselect6, r + 1, rs, 0, 0, tsp, sig))
    time.sleep(0.05)
    wr(task, w, b"q")
    th.join(5)
    assert out == [1] and getset(task, rs) == [r]
    sec, nsec = struct.unpack("<qq", task.mm.copy_in(tsp, 16))
    assert 3 <= sec < 5


def test_poll_host_stream(kernel, task):
    hr, hw = os.pipe()
    task.fds.install_at(5, HostStream(os.dup(hr), os.O_RDONLY, ""))
    task.fds.install_at(6, HostStream(os.dup(hw), os.O_WRONLY, ""))
    os.close(hr)
    p = pollfds(task, (5, POLLIN), (6, POLLOUT))
    assert call(task, spoll.sys_poll, p, 2, 0) == 1
    assert revents(task, p, 2) == [0, POLLOUT]
    # A host write nobody notifies about is still seen (slice loop).
    threading.Timer(0.1, lambda: os.write(hw, b"host")).start()
    p = pollfds(task, (5, POLLIN))
    assert call(task, spoll.sys_poll, p, 1, 5000) == 1
    assert rd(task, 5, 10) == b"host"
    # A blocking host read releases the kernel lock and sees signals.
    catch(task, SIGUSR1)
    th, out = in_thread(lambda: rd(task, 5, 10))
    time.sleep(0.08)
    assert th.is_alive()
    signal(task, SIGUSR1)
    th.join(5)
    assert out == [-ERESTARTSYS]
    task.pending.clear()
    th, out = in_thread(lambda: rd(task, 5, 10))
    time.sleep(0.08)
    os.write(hw, b"more")
    th.join(5)
    assert out == [b"more"]
    os.close(hw)
    call(task, fs.sys_close, 5)
    call(task, fs.sys_close, 6)


# ---------------------------------------------------------------- sleeps

def test_nanosleep_wait_and_interrupt(kernel, task):
    assert call(task, stime.sys_nanosleep, ts(task, 0, 20_000_000), 0) == 0
    catch(task, SIGUSR1)
    rem = task.mm.alloc(16)
    threading.Timer(0.05, lambda: signal(task, SIGUSR1)).start()
    assert call(task, stime.sys_nanosleep, ts(task, 5, 0), rem) == -ERESTART_RESTARTBLOCK
    sec, _ = struct.unpack("<qq", task.mm.copy_in(rem, 16))
    assert 4 <= sec < 5
    task.pending.clear()
    with kernel.serving_in_poller(), pytest.raises(MustExit):
        call(task, stime.sys_nanosleep, ts(task, 0, 1000), 0)
    # An absolute sleep is restarted as is (ERESTARTNOHAND).
    threading.Timer(0.05, lambda: signal(task, SIGUSR1)).start()
    now = time.time() + 5
    assert call(task, stime.sys_clock_nanosleep, 0, 1, ts(task, int(now), 0), 0) == -ERESTARTNOHAND


def test_sleep_ends_when_group_exits(kernel, task):
    from qkernel.kernel import TaskExit
    done: list[str] = []

    def sleeper() -> None:
        try:
            call(task, stime.sys_nanosleep, ts(task, 10, 0), 0)
        except TaskExit:
            done.append("exit")
    th = threading.Thread(target=sleeper, daemon=True)
    th.start()
    time.sleep(0.05)
    with kernel.lock:
        kernel.kill_group(task.tg, 9)
    th.join(5)
    assert done == ["exit"]


# ---------------------------------------------------------------- sched

def test_sched_calls(kernel, task):
    assert call(task, sched.sys_sched_yield) == 0
    assert call(task, sched.sys_sched_getscheduler, 0) == 0
    assert call(task, sched.sys_sched_getscheduler, -1) == -errno.EINVAL
    assert call(task, sched.sys_sched_getscheduler, 999999) == -errno.ESRCH
    prm = task.mm.alloc(struct.pack("<i", 0))
    assert call(task, sched.sys_sched_setscheduler, 0, 3, prm) == 0           # SCHED_BATCH
    assert call(task, sched.sys_sched_getscheduler, task.tid) == 3
    assert call(task, sched.sys_sched_setscheduler, 0, 1, prm) == -errno.EINVAL  # FIFO prio 0
    assert call(task, sched.sys_sched_setscheduler, 0, 1, task.mm.alloc(struct.pack("<i", 5))) \
        == -errno.EPERM
    assert call(task, sched.sys_sched_setscheduler, 0, 42, prm) == -errno.EINVAL
    assert call(task, sched.sys_sched_setparam, 0, task.mm.alloc(struct.pack("<i", 1))) \
        == -errno.EINVAL
    assert call(task, sched.sys_sched_getparam, 0, prm) == 0 and task.mm.read_u32(prm) == 0
    assert call(task, sched.sys_sched_get_priority_max, 1) == 99
    assert call(task, sched.sys_sched_get_priority_min, 2) == 1
    assert call(task, sched.sys_sched_get_priority_max, 0) == 0
    assert call(task, sched.sys_sched_get_priority_min, 9) == -errno.EINVAL
    iv = task.mm.alloc(16)
    assert call(task, sched.sys_sched_rr_get_interval, 0, iv) == 0
    assert struct.unpack("<qq", task.mm.copy_in(iv, 16)) == (0, 100_000_000)
    cpu, node = task.mm.alloc(4), task.mm.alloc(4)
    task.mm.write_u32(cpu, 7)
    assert call(task, sched.sys_getcpu, cpu, node, 0) == 0 and task.mm.read_u32(cpu) == 0
    assert call(task, sched.sys_getcpu, 8, 0, 0) == -errno.EFAULT


def test_nice_values(kernel, task):
    assert call(task, sched.sys_getpriority, 0, 0) == 20
    assert call(task, sched.sys_setpriority, 0, 0, 5) == 0
    assert call(task, sched.sys_getpriority, 0, 0) == 15
    assert call(task, sched.sys_getpriority, 0, task.tid) == 15
    assert call(task, sched.sys_setpriority, 0, 0, 100) == 0                  # clamped to 19
    assert call(task, sched.sys_getpriority, 0, 0) == 1
    assert call(task, sched.sys_setpriority, 0, 0, 0) == -errno.EACCES       # lowering nice
    assert call(task, sched.sys_getpriority, 1, 0) == 1                       # own process group
    new_task(kernel)                                                          # same uid, nice 0
    assert call(task, sched.sys_getpriority, 2, 0) == 20                      # best of the user's
    assert call(task, sched.sys_getpriority, 0, 999999) == -errno.ESRCH
    assert call(task, sched.sys_getpriority, 7, 0) == -errno.EINVAL
