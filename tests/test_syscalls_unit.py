"""UNIT tests of the identity, time and process handlers.

They call the handlers directly with a stand-in task whose guest memory is a
real AddressSpace with one flat mapping (tests/memory.py).  They check argument validation,
guest-struct layouts and bookkeeping; the acceptance tests are the real
guests under tests/conformance/.
"""
from __future__ import annotations

import errno
import struct
import time
from typing import Any

import pytest

from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.syscalls import identity, process
from qkernel.syscalls import time as qtime
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup
from tests.memory import FlatMemory

BASE = 0x10000
SIZE = 0x10000




class FakeKernel:
    def __init__(self) -> None:
        self.hostname = "quark"
        self.domainname = "(none)"
        self.boot_monotonic_ns = time.monotonic_ns()
        self.fs_calls: list[int] = []
        self.exited: list[int] = []
        self.poller = False
        self.vcpu_count = 1
        self.memory_size = 256 << 20

    def set_fs_base(self, task: Any, addr: int) -> None:
        self.fs_calls.append(addr)

    def set_gs_base(self, task: Any, addr: int) -> None:
        pass

    def exit_group(self, task: Any, status: int) -> None:
        self.exited.append(status)

    def in_poller(self) -> bool:
        return self.poller


@pytest.fixture
def task() -> Task:
    return Task(kernel=FakeKernel(), mm=FlatMemory(), fds=None, fs=None,  # type: ignore[arg-type]
                creds=Credentials(), pid=1, tid=1)


def err(fn: Any, *args: Any) -> int:
    with pytest.raises(SyscallError) as e:
        fn(*args)
    return e.value.errno


A = BASE + 0x100
B = BASE + 0x800
BAD = 1


# ------------------------------------------------------------------ identity

def test_uname_layout(task: Task) -> None:
    assert identity.sys_uname(task, A) == 0
    raw = task.mm.copy_in(A, 390)
    fields = [raw[i * 65:(i + 1) * 65].split(b"\0")[0] for i in range(6)]
    assert fields[0] == b"Linux" and fields[1] == b"quark" and fields[4] == b"x86_64"
    major, minor = fields[2].split(b".")[:2]
    assert (int(major), int(minor)) >= (3, 2)
    assert fields[5] == b"(none)"
    assert err(identity.sys_uname, task, BAD) == errno.EFAULT


def test_sethostname(task: Task) -> None:
    task.mm.copy_out(A, b"guest")
    assert identity.sys_sethostname(task, A, 5) == 0
    assert task.kernel.hostname == "guest"
    assert err(identity.sys_sethostname, task, A, 65) == errno.EINVAL
    assert err(identity.sys_sethostname, task, BAD, 5) == errno.EFAULT
    assert identity.sys_setdomainname(task, A, 3) == 0 and task.kernel.domainname == "gue"
    task.creds = Credentials.for_user(1000, 1000)
    assert err(identity.sys_sethostname, task, A, 5) == errno.EPERM


def test_ids_and_groups(task: Task) -> None:
    task.creds = Credentials.for_user(0, 0, [5, 3])
    assert identity.sys_getgroups(task, 0, 0) == 2
    assert err(identity.sys_getgroups, task, 1, A) == errno.EINVAL
    assert identity.sys_getgroups(task, 2, A) == 2
    assert struct.unpack("<2I", task.mm.copy_in(A, 8)) == (5, 3)
    task.mm.copy_out(B, struct.pack("<3I", 9, 1, 4))
    assert identity.sys_setgroups(task, 3, B) == 0 and task.creds.groups == [1, 4, 9]
    assert err(identity.sys_setgroups, task, -1, B) == errno.EINVAL


def test_setuid_rules(task: Task) -> None:
    # Root drops the effective uid only, keeps saved 0, and can come back.
    assert identity.sys_setresuid(task, -1, 1000, -1) == 0
    assert (task.creds.uid, task.creds.euid, task.creds.suid) == (0, 1000, 0)
    assert err(identity.sys_setuid, task, 2000) == errno.EPERM
    assert identity.sys_setreuid(task, -1, 0) == 0 and task.creds.euid == 0
    assert identity.sys_setuid(task, 1000) == 0
    c = task.creds
    assert (c.uid, c.euid, c.suid, c.fsuid) == (1000, 1000, 1000, 1000)
    assert err(identity.sys_setuid, task, 0) == errno.EPERM
    assert err(identity.sys_setresuid, task, 0, -1, -1) == errno.EPERM
    assert identity.sys_setfsuid(task, 0) == 1000 and c.fsuid == 1000
    assert err(identity.sys_setuid, task, 0xFFFFFFFF) == errno.EINVAL
    assert identity.sys_getresuid(task, A, A + 4, A + 8) == 0
    assert struct.unpack("<3I", task.mm.copy_in(A, 12)) == (1000, 1000, 1000)


def test_setgid_rules(task: Task) -> None:
    assert identity.sys_setresgid(task, 10, 20, 30) == 0
    assert identity.sys_getegid(task) == 20 and task.creds.fsgid == 20
    assert identity.sys_setfsgid(task, 7) == 20 and task.creds.fsgid == 7


# ------------------------------------------------------------------ time

def test_clock_gettime(task: Task) -> None:
    for clk in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11):
        assert qtime.sys_clock_gettime(task, clk, A) == 0
        sec, nsec = struct.unpack("<qq", task.mm.copy_in(A, 16))
        assert sec >= 0 and 0 <= nsec < 1_000_000_000
    qtime.sys_clock_gettime(task, 1, A)
    assert struct.unpack("<q", task.mm.copy_in(A, 8))[0] < 60   # starts near zero
    qtime.sys_clock_gettime(task, 0, A)
    assert abs(struct.unpack("<q", task.mm.copy_in(A, 8))[0] - time.time()) < 5
    assert err(qtime.sys_clock_gettime, task, 10, A) == errno.EINVAL
    assert err(qtime.sys_clock_gettime, task, 12, A) == errno.EINVAL
    assert err(qtime.sys_clock_gettime, task, 1, BAD) == errno.EFAULT
    # CPU clock of self (clock_getcpuclockid(0) = -2 for the process).
    assert qtime.sys_clock_gettime(task, (~0 << 3) | 2, A) == 0


def test_clock_getres_time_gettimeofday(task: Task) -> None:
    qtime.sys_clock_getres(task, 1, A)
    assert struct.unpack("<qq", task.mm.copy_in(A, 16)) == (0, 1)
    assert qtime.sys_clock_getres(task, 1, 0) == 0
    assert err(qtime.sys_clock_getres, task, 99, A) == errno.EINVAL
    t = qtime.sys_time(task, 0)
    assert abs(t - time.time()) < 5
    assert qtime.sys_time(task, A) - task.mm.read_u64(A) in (0, -1)
    assert err(qtime.sys_time, task, BAD) == errno.EFAULT
    assert qtime.sys_gettimeofday(task, A, B) == 0
    assert struct.unpack("<ii", task.mm.copy_in(B, 8)) == (0, 0)
    assert qtime.sys_gettimeofday(task, 0, 0) == 0


def _ts(task: Task, addr: int, sec: int, nsec: int) -> int:
    task.mm.copy_out(addr, struct.pack("<qq", sec, nsec))
    return addr





def test_arch_prctl(task: Task) -> None:
    assert process.sys_arch_prctl(task, 0x1002, 0x7000_1000) == 0
    assert task.fs_base == 0x7000_1000 and task.kernel.fs_calls == [0x7000_1000]
    assert process.sys_arch_prctl(task, 0x1003, A) == 0 and task.mm.read_u64(A) == 0x7000_1000
    assert process.sys_arch_prctl(task, 0x1001, 0x5000) == 0
    assert process.sys_arch_prctl(task, 0x1004, A) == 0 and task.mm.read_u64(A) == 0x5000
    assert err(process.sys_arch_prctl, task, 0x1002, 1 << 63) == errno.EPERM
    assert err(process.sys_arch_prctl, task, 0x1003, BAD) == errno.EFAULT
    assert process.sys_arch_prctl(task, 0x1011, 0) == 1
    assert err(process.sys_arch_prctl, task, 0x9999, 0) == errno.EINVAL


def test_thread_bookkeeping(task: Task) -> None:
    assert process.sys_set_tid_address(task, A) == 1 and task.clear_child_tid == A
    assert err(process.sys_set_robust_list, task, A, 23) == errno.EINVAL
    assert process.sys_set_robust_list(task, A, 24) == 0
    assert process.sys_get_robust_list(task, 0, B, B + 8) == 0
    assert struct.unpack("<QQ", task.mm.copy_in(B, 16)) == (A, 24)
    assert err(process.sys_get_robust_list, task, 77, B, B + 8) == errno.ESRCH


def test_rseq(task: Task) -> None:
    r = BASE + 0x1000                      # 32-byte aligned
    task.mm.copy_out(r, b"\xff" * 32)
    assert err(process.sys_rseq, task, r + 8, 32, 0, 0x53053053) == errno.EINVAL
    assert err(process.sys_rseq, task, r, 16, 0, 0x53053053) == errno.EINVAL
    assert err(process.sys_rseq, task, r, 32, 2, 0x53053053) == errno.EINVAL
    assert process.sys_rseq(task, r, 32, 0, 0x53053053) == 0
    assert task.mm.read_u32(r) == 0 and task.mm.read_u32(r + 4) == 0
    assert task.rseq == (r, 32, 0x53053053)
    assert err(process.sys_rseq, task, r, 32, 0, 0x53053053) == errno.EBUSY
    assert err(process.sys_rseq, task, r, 32, 0, 1) == errno.EPERM
    assert err(process.sys_rseq, task, r, 32, 1, 1) == errno.EPERM
    assert process.sys_rseq(task, r, 32, 1, 0x53053053) == 0
    assert task.mm.read_u32(r + 4) == 0xFFFFFFFF and task.rseq == (0, 0, 0)


def test_rlimits(task: Task) -> None:
    assert process.sys_getrlimit(task, 7, A) == 0
    soft, hard = struct.unpack("<QQ", task.mm.copy_in(A, 16))
    assert (soft, hard) == (1024, 1024 * 1024)
    task.mm.copy_out(A, struct.pack("<QQ", 10, 5))
    assert err(process.sys_setrlimit, task, 7, A) == errno.EINVAL
    task.mm.copy_out(A, struct.pack("<QQ", 100, 200))
    assert process.sys_prlimit64(task, 0, 7, A, B) == 0
    assert struct.unpack("<QQ", task.mm.copy_in(B, 16)) == (1024, 1024 * 1024)
    assert err(process.sys_prlimit64, task, 2, 7, 0, B) == errno.ESRCH
    assert err(process.sys_getrlimit, task, 16, A) == errno.EINVAL
    task.creds = Credentials.for_user(1000, 1000)
    task.mm.copy_out(A, struct.pack("<QQ", 100, 300))
    assert err(process.sys_setrlimit, task, 7, A) == errno.EPERM
    task.mm.copy_out(A, struct.pack("<QQ", 50, 150))
    assert process.sys_setrlimit(task, 7, A) == 0 and task.limits.get(7) == (50, 150)


def test_getrandom(task: Task) -> None:
    assert process.sys_getrandom(task, A, 64, 0) == 64
    assert task.mm.copy_in(A, 64) != bytes(64)
    assert err(process.sys_getrandom, task, A, 8, 8) == errno.EINVAL
    assert err(process.sys_getrandom, task, A, 8, 6) == errno.EINVAL
    assert err(process.sys_getrandom, task, BAD, 8, 1) == errno.EFAULT
    assert process.sys_getrandom(task, A, 0, 4) == 0


def test_affinity_sysinfo_rusage_times(task: Task) -> None:
    assert process.sys_sched_getaffinity(task, 0, 128, A) == 8
    assert task.mm.read_u64(A) == 1
    assert err(process.sys_sched_getaffinity, task, 0, 4, A) == errno.EINVAL
    assert err(process.sys_sched_getaffinity, task, 0, 0, A) == errno.EINVAL
    task.mm.write_u64(A, 0b10)
    assert err(process.sys_sched_setaffinity, task, 0, 8, A) == errno.EINVAL
    task.mm.write_u64(A, 0b11)
    assert process.sys_sched_setaffinity(task, 0, 8, A) == 0
    assert process.sys_sysinfo(task, A) == 0
    fields = process.SYSINFO.unpack(task.mm.copy_in(A, 112))
    assert fields[4] == 256 << 20 and fields[10] == 1 and fields[-1] == 1
    assert process.sys_getrusage(task, 0, A) == 0
    assert process.sys_getrusage(task, -1, A) == 0
    assert err(process.sys_getrusage, task, 5, A) == errno.EINVAL
    assert process.sys_times(task, 0) >= 0 and process.sys_times(task, A) >= 0


def test_exit(task: Task) -> None:
    process.sys_exit_group(task, 0x1234)
    assert task.kernel.exited == [0x34] and task.exit_status == 0x3400



def test_prctl(task: Task) -> None:
    task.mm.copy_out(A, b"a-very-long-thread-name\0")
    assert process.sys_prctl(task, 15, A, 0, 0, 0) == 0 and task.comm == b"a-very-long-thr"
    assert process.sys_prctl(task, 16, B, 0, 0, 0) == 0
    assert task.mm.copy_in(B, 16) == b"a-very-long-thr\0"
    assert process.sys_prctl(task, 3, 0, 0, 0, 0) == 1
    assert process.sys_prctl(task, 4, 0, 0, 0, 0) == 0 and process.sys_prctl(task, 3, 0, 0, 0, 0) == 0
    assert err(process.sys_prctl, task, 4, 2, 0, 0, 0) == errno.EINVAL
    assert process.sys_prctl(task, 1, 9, 0, 0, 0) == 0
    assert process.sys_prctl(task, 2, A, 0, 0, 0) == 0 and task.mm.read_u32(A) == 9
    assert err(process.sys_prctl, task, 38, 1, 1, 0, 0) == errno.EINVAL
    assert process.sys_prctl(task, 38, 1, 0, 0, 0) == 0 and process.sys_prctl(task, 39, 0, 0, 0, 0) == 1
    assert process.sys_prctl(task, 21, 0, 0, 0, 0) == 0
    assert process.sys_prctl(task, 23, 0, 0, 0, 0) == 1
    assert err(process.sys_prctl, task, 23, 99, 0, 0, 0) == errno.EINVAL
    assert err(process.sys_prctl, task, 9999, 0, 0, 0, 0) == errno.EINVAL


def test_groups_and_sessions(task: Task) -> None:
    assert process.sys_getpgrp(task) == 1 and process.sys_getsid(task, 0) == 1
    assert process.sys_getpgid(task, 1) == 1
    assert err(process.sys_getpgid, task, 2) == errno.ESRCH
    assert err(process.sys_setsid, task) == errno.EPERM       # group leader
    assert err(process.sys_setpgid, task, 0, 0) == errno.EPERM  # session leader
    assert err(process.sys_setpgid, task, 5, 0) == errno.ESRCH
    assert err(process.sys_setpgid, task, 0, -1) == errno.EINVAL
    other = Task(kernel=task.kernel, mm=task.mm, fds=None, fs=None,  # type: ignore[arg-type]
                 creds=Credentials(), pid=7, tid=7,
                 tg=ThreadGroup(pid=7, parent=None, pgid=3, sid=3))
    assert process.sys_setsid(other) == 7 and (other.pgid, other.sid) == (7, 7)
