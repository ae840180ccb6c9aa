"""alarm, itimers, POSIX timers and timerfd against a real Kernel (no KVM):
handlers run with kernel.lock held, and the kernel timer thread fires
expiries with no syscall in between."""
from __future__ import annotations

import errno
import struct
import time

from qkernel import timers
from qkernel.signals.consts import SI_TIMER
from qkernel.syscalls import fs, timer as st
from qkernel.task import SignalAction
from tests.test_futex_poll_unit import call, in_thread, kernel, new_task, task, wait_for  # noqa: F401

SIGALRM, SIGUSR1, SIGVTALRM = 14, 10, 26


def catch(task, signo: int) -> None:
    task.tg.sigactions[signo] = SignalAction(handler=0x1000)


def pending(task, signo: int) -> list:
    return task.tg.shared_pending.get(signo, []) + task.pending.get(signo, [])


def itimerval(task, isec, iusec, vsec, vusec) -> int:
    return task.mm.alloc(struct.pack("<qqqq", isec, iusec, vsec, vusec))


def itimerspec(task, isec, insec, vsec, vnsec) -> int:
    return task.mm.alloc(struct.pack("<qqqq", isec, insec, vsec, vnsec))


def read4q(task, addr) -> tuple[int, ...]:
    return struct.unpack("<qqqq", task.mm.copy_in(addr, 32))


def test_alarm_fires_without_syscall_and_returns_remaining(task):
    catch(task, SIGALRM)
    assert call(task, st.sys_alarm, 10) == 0
    assert call(task, st.sys_alarm, 5) == 10          # rounded remaining
    assert call(task, st.sys_alarm, 0) == 5           # cancel
    assert call(task, st.sys_alarm, 0) == 0
    # A short itimer: the signal arrives with no guest syscall.
    assert call(task, st.sys_setitimer, 0, itimerval(task, 0, 0, 0, 20_000), 0) == 0
    wait_for(lambda: bool(pending(task, SIGALRM)))


def test_setitimer_interval_getitimer_and_errors(task):
    catch(task, SIGVTALRM)
    old = task.mm.alloc(32)
    assert call(task, st.sys_setitimer, 1, itimerval(task, 0, 30_000, 0, 30_000), 0) == 0
    assert call(task, st.sys_getitimer, 1, old) == 0
    isec, iusec, vsec, vusec = read4q(task, old)
    assert (isec, iusec) == (0, 30_000) and vsec == 0 and 0 < vusec <= 30_000
    wait_for(lambda: bool(pending(task, SIGVTALRM)))
    task.tg.shared_pending.clear()
    wait_for(lambda: bool(pending(task, SIGVTALRM)))    # periodic
    assert call(task, st.sys_setitimer, 1, 0, old) == 0  # NULL disarms, old comes back
    assert read4q(task, old)[:2] == (0, 30_000)
    assert call(task, st.sys_getitimer, 1, old) == 0
    assert read4q(task, old) == (0, 0, 0, 0)
    assert call(task, st.sys_setitimer, 5, 0, 0) == -errno.EINVAL
    assert call(task, st.sys_setitimer, 0, itimerval(task, 0, 0, 0, 1_000_000), 0) == -errno.EINVAL
    assert call(task, st.sys_getitimer, 0, 8) == -errno.EFAULT


def test_itimers_die_with_the_process(kernel, task):
    catch(task, SIGALRM)
    assert call(task, st.sys_alarm, 100) == 0
    with kernel.lock:
        timers.on_exit(kernel, task.tg)
        assert not timers.service(kernel).timers


def test_posix_timer_signal_overrun_and_delete(kernel, task):
    catch(task, SIGUSR1)
    task.sigmask = 1 << (SIGUSR1 - 1)                   # blocked: expiries pile up as overruns
    sev = task.mm.alloc(struct.pack("<qiii", 0x1234, SIGUSR1, 0, 0).ljust(64, b"\0"))
    idp = task.mm.alloc(4)
    assert call(task, st.sys_timer_create, 1, sev, idp) == 0
    tid = struct.unpack("<i", task.mm.copy_in(idp, 4))[0]
    assert call(task, st.sys_timer_settime, tid, 0, itimerspec(task, 0, 10_000_000, 0, 10_000_000), 0) == 0
    wait_for(lambda: bool(pending(task, SIGUSR1)))
    time.sleep(0.06)
    with kernel.lock:
        info = pending(task, SIGUSR1)[0]
        assert info.code == SI_TIMER and info.value == 0x1234 and info.tid == tid
        assert info.overrun >= 2
        assert len(pending(task, SIGUSR1)) == 1
    cur = task.mm.alloc(32)
    assert call(task, st.sys_timer_gettime, tid, cur) == 0
    assert read4q(task, cur)[:2] == (0, 10_000_000)
    assert call(task, st.sys_timer_getoverrun, tid) >= 2
    assert call(task, st.sys_timer_delete, tid) == 0
    assert call(task, st.sys_timer_delete, tid) == -errno.EINVAL
    assert call(task, st.sys_timer_gettime, tid, cur) == -errno.EINVAL


def test_posix_timer_defaults_abstime_and_errors(kernel, task):
    catch(task, SIGALRM)
    idp = task.mm.alloc(4)
    assert call(task, st.sys_timer_create, 0, 0, idp) == 0
    tid = struct.unpack("<i", task.mm.copy_in(idp, 4))[0]
    now = time.time_ns() + 20_000_000
    spec = itimerspec(task, 0, 0, now // 1_000_000_000, now % 1_000_000_000)
    assert call(task, st.sys_timer_settime, tid, 1, spec, 0) == 0       # TIMER_ABSTIME
    wait_for(lambda: bool(pending(task, SIGALRM)))
    assert pending(task, SIGALRM)[0].value == tid                       # default sigev_value
    assert call(task, st.sys_timer_create, 99, 0, idp) == -errno.EINVAL
    bad = task.mm.alloc(struct.pack("<qiii", 0, 0, 7, 0).ljust(64, b"\0"))
    assert call(task, st.sys_timer_create, 1, bad, idp) == -errno.EINVAL
    none = task.mm.alloc(struct.pack("<qiii", 0, 0, 1, 0).ljust(64, b"\0"))   # SIGEV_NONE
    assert call(task, st.sys_timer_create, 1, none, idp) == 0
    tid2 = struct.unpack("<i", task.mm.copy_in(idp, 4))[0]
    assert tid2 != tid
    assert call(task, st.sys_timer_settime, tid2, 0, itimerspec(task, 0, 0, 0, 1_000_000_000), 0) == -errno.EINVAL
    assert call(task, st.sys_timer_settime, tid2, 0, itimerspec(task, 0, 0, 0, 5_000_000), 0) == 0
    time.sleep(0.01)
    cur = task.mm.alloc(32)
    assert call(task, st.sys_timer_gettime, tid2, cur) == 0
    assert read4q(task, cur) == (0, 0, 0, 0)
    with kernel.lock:
        timers.on_exec(kernel, task.tg)
    assert call(task, st.sys_timer_delete, tid2) == -errno.EINVAL


def test_timerfd_read_blocks_counts_and_polls(kernel, task):
    fd = call(task, st.sys_timerfd_create, 1, 0)
    assert fd >= 0
    buf = task.mm.alloc(8)
    with kernel.lock:
        f = task.fds.get(fd)
        assert f.poll_events(task) == 0
    assert call(task, st.sys_timerfd_settime, fd, 0, itimerspec(task, 0, 5_000_000, 0, 20_000_000), 0) == 0
    th, out = in_thread(lambda: call(task, fs.sys_read, fd, buf, 8))
    th.join(5)
    assert out == [8]
    assert struct.unpack("<Q", task.mm.copy_in(buf, 8))[0] >= 1
    time.sleep(0.03)
    assert call(task, fs.sys_read, fd, buf, 8) == 8
    assert struct.unpack("<Q", task.mm.copy_in(buf, 8))[0] >= 3      # several expirations, one read
    assert call(task, fs.sys_read, fd, buf, 4) == -errno.EINVAL
    cur = task.mm.alloc(32)
    assert call(task, st.sys_timerfd_gettime, fd, cur) == 0
    assert read4q(task, cur)[:2] == (0, 5_000_000)
    assert call(task, st.sys_timerfd_settime, fd, 0, itimerspec(task, 0, 0, 0, 0), 0) == 0
    assert call(task, st.sys_timerfd_gettime, fd, cur) == 0
    assert read4q(task, cur) == (0, 0, 0, 0)
    nb = call(task, st.sys_timerfd_create, 1, 0o4000)
    assert call(task, fs.sys_read, nb, buf, 8) == -errno.EAGAIN
    assert call(task, st.sys_timerfd_create, 3, 0) == -errno.EINVAL
    assert call(task, st.sys_timerfd_create, 1, 1) == -errno.EINVAL
    assert call(task, st.sys_timerfd_gettime, 99, cur) == -errno.EBADF
    from qkernel.syscalls.eventfd import sys_eventfd
    assert call(task, st.sys_timerfd_gettime, call(task, sys_eventfd, 0), cur) == -errno.EINVAL
    assert call(task, fs.sys_close, fd) == 0
    with kernel.lock:
        assert f.ktimer not in timers.service(kernel).timers
