"""Process-level syscalls that need neither files nor memory mappings:
arch_prctl, thread bookkeeping (set_tid_address, robust lists, rseq), resource
limits, getrandom, affinity, sysinfo, rusage/times, exit, prctl, process groups and sessions.

v0 runs one task per sandbox: every "other pid" is ESRCH, and exit is
exit_group.  The state lives on the Task, so thread groups can share it later
without changing these handlers' contracts.
"""
from __future__ import annotations

import errno
import os
import struct
from typing import Any

from qkernel import clock
from qkernel.errors import SyscallError
from qkernel.limits import RLIMIT_NAMES


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _u32(v: int) -> int:
    return v & 0xFFFF_FFFF


def _is_self(task: Any, pid: int) -> bool:
    return _s32(pid) in (0, task.pid)


# ---------------------------------------------------------------- arch_prctl

ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004
ARCH_GET_CPUID = 0x1011
ARCH_SET_CPUID = 0x1012
TASK_SIZE_MAX = (1 << 47) - 4096    # bases at or above it are refused (EPERM)


def sys_arch_prctl(task: Any, code: int, addr: int) -> int:
    code = _s32(code)
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        if addr >= TASK_SIZE_MAX:
            raise SyscallError(errno.EPERM)
        if code == ARCH_SET_FS:
            task.fs_base = addr
            setter = getattr(task.kernel, "set_fs_base", None)
        else:
            task.extra["gs_base"] = addr
            setter = getattr(task.kernel, "set_gs_base", None)
        if setter is not None:      # writes the vCPU register (the vCPU's job)
            setter(task, addr)
        return 0
    if code == ARCH_GET_FS:
        task.mm.write_u64(addr, task.fs_base)
        return 0
    if code == ARCH_GET_GS:
        task.mm.write_u64(addr, task.extra.get("gs_base", 0))
        return 0
    if code == ARCH_GET_CPUID:
        return 1                    # CPUID is enabled (never faulted here)
    if code == ARCH_SET_CPUID:
        # Needs CPUID faulting, which neither PVM nor quark's vCPUs provide.
        raise SyscallError(errno.ENODEV)
    raise SyscallError(errno.EINVAL)


# ---------------------------------------------------------------- thread bookkeeping

ROBUST_LIST_HEAD_LEN = 24           # struct robust_list_head on x86-64


def sys_set_tid_address(task: Any, tidptr: int) -> int:
    task.clear_child_tid = tidptr
    return task.tid


def sys_set_robust_list(task: Any, head: int, length: int) -> int:
    if length != ROBUST_LIST_HEAD_LEN:
        raise SyscallError(errno.EINVAL)
    task.robust_list = (head, length)
    return 0


def sys_get_robust_list(task: Any, pid: int, head_ptr: int, len_ptr: int) -> int:
    if not (_s32(pid) == 0 or _s32(pid) == task.tid):
        raise SyscallError(errno.ESRCH)
    head, _length = task.robust_list
    task.mm.write_u64(len_ptr, ROBUST_LIST_HEAD_LEN)
    task.mm.write_u64(head_ptr, head)
    return 0


RSEQ_FLAG_UNREGISTER = 1
RSEQ_ORIG_SIZE = 32                 # the original struct rseq, 32-byte aligned
RSEQ_MIN_EXTENDED = 28              # offsetof(struct rseq, end) with mm_cid
RSEQ_CPU_ID_UNINITIALIZED = 0xFFFF_FFFF


def _rseq_write_cpu(task: Any, addr: int, length: int, cpu_id: int) -> None:
    """Publish the CPU fields as Linux does on return to user space:
    cpu_id_start (offset 0), cpu_id (4), and with an extended area node_id
    (20) and mm_cid (24).  glibc reads cpu_id for sched_getcpu()."""
    task.mm.write_u32(addr, 0 if cpu_id == RSEQ_CPU_ID_UNINITIALIZED else cpu_id)
    task.mm.write_u32(addr + 4, cpu_id)
    if length >= RSEQ_MIN_EXTENDED:
        task.mm.write_u32(addr + 20, 0)
        task.mm.write_u32(addr + 24, 0)


def sys_rseq(task: Any, rseq: int, rseq_len: int, flags: int, sig: int) -> int:
    rseq_len, flags, sig = _u32(rseq_len), _s32(flags), _u32(sig)
    cur_addr, cur_len, cur_sig = task.rseq
    if flags & RSEQ_FLAG_UNREGISTER:
        if flags & ~RSEQ_FLAG_UNREGISTER:
            raise SyscallError(errno.EINVAL)
        if not cur_addr or cur_addr != rseq or rseq_len != cur_len:
            raise SyscallError(errno.EINVAL)
        if sig != cur_sig:
            raise SyscallError(errno.EPERM)
        _rseq_write_cpu(task, rseq, rseq_len, RSEQ_CPU_ID_UNINITIALIZED)
        task.rseq = (0, 0, 0)
        return 0
    if flags:
        raise SyscallError(errno.EINVAL)
    if cur_addr:
        if cur_addr != rseq or rseq_len != cur_len:
            raise SyscallError(errno.EINVAL)
        if sig != cur_sig:
            raise SyscallError(errno.EPERM)
        raise SyscallError(errno.EBUSY)
    if rseq_len < RSEQ_ORIG_SIZE or rseq % 32 or \
            (rseq_len != RSEQ_ORIG_SIZE and rseq_len < RSEQ_MIN_EXTENDED):
        raise SyscallError(errno.EINVAL)
    if rseq + rseq_len > TASK_SIZE_MAX + 4096:
        raise SyscallError(errno.EFAULT)
    _rseq_write_cpu(task, rseq, rseq_len, 0)     # the only CPU a v0 task sees
    task.rseq = (rseq, rseq_len, sig)
    return 0


# ---------------------------------------------------------------- resource limits

RLIM_NLIMITS = len(RLIMIT_NAMES)
RLIMIT_NOFILE = 7
NR_OPEN = 1024 * 1024               # fs.nr_open: ceiling for RLIMIT_NOFILE
RLIMIT = struct.Struct("<QQ")


def _do_prlimit(task: Any, resource: int, new: tuple[int, int] | None) -> tuple[int, int]:
    resource = _u32(resource)
    if resource >= RLIM_NLIMITS:
        raise SyscallError(errno.EINVAL)
    old = task.limits.get(resource)
    if new is not None:
        soft, hard = new
        if soft > hard:
            raise SyscallError(errno.EINVAL)
        if resource == RLIMIT_NOFILE and hard > NR_OPEN:
            raise SyscallError(errno.EPERM)
        if hard > old[1] and task.creds.euid != 0:
            raise SyscallError(errno.EPERM)
        task.limits.set(resource, soft, hard)
    return old


def sys_prlimit64(task: Any, pid: int, resource: int, new_limit: int, old_limit: int) -> int:
    if not _is_self(task, pid):
        raise SyscallError(errno.ESRCH)
    new = RLIMIT.unpack(task.mm.copy_in(new_limit, RLIMIT.size)) if new_limit else None
    old = _do_prlimit(task, resource, new)
    if old_limit:
        task.mm.copy_out(old_limit, RLIMIT.pack(*old))
    return 0


def sys_getrlimit(task: Any, resource: int, rlim: int) -> int:
    old = _do_prlimit(task, resource, None)
    task.mm.copy_out(rlim, RLIMIT.pack(*old))
    return 0


def sys_setrlimit(task: Any, resource: int, rlim: int) -> int:
    new = RLIMIT.unpack(task.mm.copy_in(rlim, RLIMIT.size))
    _do_prlimit(task, resource, new)
    return 0


# ---------------------------------------------------------------- getrandom

GRND_NONBLOCK = 1
GRND_RANDOM = 2
GRND_INSECURE = 4
# Per-call cap.  Kernels before 5.18 stopped at INT_MAX >> 6 (33554431); 6.x
# (which quark claims to be, and the hosts run) caps only at MAX_RW_COUNT,
# as measured by tests/conformance/getrandom_basic.c on this host.
GETRANDOM_MAX = 0x7FFF_F000
_RANDOM_CHUNK = 1 << 20


def sys_getrandom(task: Any, buf: int, count: int, flags: int) -> int:
    flags = _u32(flags)
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        raise SyscallError(errno.EINVAL)
    if flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE:
        raise SyscallError(errno.EINVAL)
    count = min(count, GETRANDOM_MAX)
    done = 0
    while done < count:
        n = min(_RANDOM_CHUNK, count - done)
        try:
            task.mm.copy_out(buf + done, os.urandom(n))
        except SyscallError:
            if done:                # a partial read reports what was copied
                return done
            raise
        done += n
    return done


# ---------------------------------------------------------------- scheduling

CPUMASK_BYTES = 8                   # the kernel's cpumask size quark reports


def _vcpus(task: Any) -> int:
    return max(1, min(64, int(getattr(task.kernel, "vcpu_count", 1) or 1)))


def sys_sched_getaffinity(task: Any, pid: int, length: int, mask: int) -> int:
    if not _is_self(task, pid) and _s32(pid) != task.tid:
        raise SyscallError(errno.ESRCH)
    if length * 8 < _vcpus(task) or length % 8:
        raise SyscallError(errno.EINVAL)
    online = (1 << _vcpus(task)) - 1
    current = task.extra.get("affinity", online) & online
    task.mm.copy_out(mask, struct.pack("<Q", current))
    return CPUMASK_BYTES


def sys_sched_setaffinity(task: Any, pid: int, length: int, mask: int) -> int:
    if not _is_self(task, pid) and _s32(pid) != task.tid:
        raise SyscallError(errno.ESRCH)
    n = min(length, CPUMASK_BYTES)
    raw = task.mm.copy_in(mask, n) if n else b""
    wanted = int.from_bytes(raw.ljust(CPUMASK_BYTES, b"\0"), "little")
    allowed = wanted & ((1 << _vcpus(task)) - 1)
    if not allowed:
        raise SyscallError(errno.EINVAL)   # no online CPU in the mask
    task.extra["affinity"] = allowed
    return 0


# ---------------------------------------------------------------- sysinfo, rusage, times

SYSINFO = struct.Struct("<q3Q6QHH4x2QI4x")   # struct sysinfo, 112 bytes
DEFAULT_MEMORY = 1 << 30
USER_HZ = 100


def _memory_size(task: Any) -> int:
    size = getattr(task.kernel, "memory_size", 0)
    if not size:
        config = getattr(task.kernel, "config", None)
        size = getattr(config, "memory_limit", 0) if config is not None else 0
    return int(size or DEFAULT_MEMORY)


def sys_sysinfo(task: Any, info: int) -> int:
    up_ns = clock.monotonic_ns(task.kernel)
    uptime = -(-up_ns // clock.NSEC_PER_SEC)     # Linux rounds a partial second up
    total = _memory_size(task)
    # The address space's resident size, when it keeps one; else an estimate.
    used = int(getattr(task.mm, "rss_bytes", 0) or 0) or total // 8
    free = max(0, total - used)
    data = SYSINFO.pack(uptime, 0, 0, 0, total, free, 0, 0, 0, 0, 1, 0, 0, 0, 1)
    task.mm.copy_out(info, data)
    return 0


RUSAGE_SELF = 0
RUSAGE_CHILDREN = -1
RUSAGE_THREAD = 1
RUSAGE = struct.Struct("<qqqq14q")             # two timevals + 14 longs, 144 bytes


def _maxrss_kib(task: Any) -> int:
    return int(getattr(task.mm, "rss_bytes", 0) or 0) // 1024


def sys_getrusage(task: Any, who: int, usage: int) -> int:
    who = _s32(who)
    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD):
        raise SyscallError(errno.EINVAL)
    if who == RUSAGE_CHILDREN:
        utime_ns, maxrss = task.extra.get("children_cpu_ns", 0), 0   # no children in v0
    else:
        utime_ns, maxrss = clock.task_cpu_ns(task), _maxrss_kib(task)
    sec, nsec = clock.split_ns(utime_ns)
    longs = [0] * 14
    longs[0] = maxrss
    task.mm.copy_out(usage, RUSAGE.pack(sec, nsec // 1000, 0, 0, *longs))
    return 0


def sys_times(task: Any, buf: int) -> int:
    if buf:                                    # NULL is allowed
        ticks = clock.task_cpu_ns(task) * USER_HZ // clock.NSEC_PER_SEC
        child = task.extra.get("children_cpu_ns", 0) * USER_HZ // clock.NSEC_PER_SEC
        task.mm.copy_out(buf, struct.pack("<4q", ticks, 0, child, 0))
    return clock.monotonic_ns(task.kernel) * USER_HZ // clock.NSEC_PER_SEC


# ---------------------------------------------------------------- exit

def _exit(task: Any, status: int) -> int:
    code = status & 0xFF
    task.exit_status = code << 8               # wait status of a normal exit
    # The kernel's exit_group unwinds the vCPU loop with an exception and
    # never returns; returning here only happens with a stand-in kernel.
    task.kernel.exit_group(task, code)
    return 0


def sys_exit(task: Any, status: int) -> int:
    # One task per thread group in v0: the last thread's exit ends the group.
    exit_thread = getattr(task.kernel, "exit_thread", None)
    if exit_thread is not None:
        task.exit_status = (status & 0xFF) << 8
        exit_thread(task, status & 0xFF)
        return 0
    return _exit(task, status)


def sys_exit_group(task: Any, status: int) -> int:
    return _exit(task, status)


# ---------------------------------------------------------------- signals
# rt_sigaction and rt_sigprocmask live in qkernel/syscalls/signal.py.

NSIG = 64


# ---------------------------------------------------------------- prctl

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_GET_SECCOMP = 21
PR_CAPBSET_READ = 23
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
CAP_LAST_CAP = 40                   # CAP_CHECKPOINT_RESTORE in Linux 6.1
TASK_COMM_LEN = 16


def _read_comm(task: Any, addr: int) -> bytes:
    """Up to 15 bytes of a NUL-terminated name; a longer name is truncated,
    not an error (Linux: strncpy_from_user into comm)."""
    out = bytearray()
    while len(out) < TASK_COMM_LEN - 1:
        b = task.mm.copy_in(addr + len(out), 1)
        if b == b"\0":
            break
        out += b
    return bytes(out)


def sys_prctl(task: Any, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    option = _s32(option)
    extra = task.extra
    if option == PR_SET_NAME:
        task.comm = _read_comm(task, arg2)
        return 0
    if option == PR_GET_NAME:
        task.mm.copy_out(arg2, task.comm[:TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_SET_PDEATHSIG:
        if not 0 <= arg2 <= NSIG:
            raise SyscallError(errno.EINVAL)
        extra["pdeathsig"] = arg2
        return 0
    if option == PR_GET_PDEATHSIG:
        task.mm.write_u32(arg2, extra.get("pdeathsig", 0))
        return 0
    if option == PR_GET_DUMPABLE:
        return extra.get("dumpable", 1)
    if option == PR_SET_DUMPABLE:
        if arg2 not in (0, 1):
            raise SyscallError(errno.EINVAL)
        extra["dumpable"] = arg2
        return 0
    if option == PR_GET_KEEPCAPS:
        return extra.get("keepcaps", 0)
    if option == PR_SET_KEEPCAPS:
        if arg2 not in (0, 1):
            raise SyscallError(errno.EINVAL)
        extra["keepcaps"] = arg2
        return 0
    if option == PR_SET_CHILD_SUBREAPER:
        extra["child_subreaper"] = 1 if arg2 else 0
        return 0
    if option == PR_GET_CHILD_SUBREAPER:
        task.mm.write_u32(arg2, extra.get("child_subreaper", 0))
        return 0
    if option == PR_SET_NO_NEW_PRIVS:
        if arg2 != 1 or arg3 or arg4 or arg5:
            raise SyscallError(errno.EINVAL)
        extra["no_new_privs"] = 1          # one-way, as on Linux
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if arg2 or arg3 or arg4 or arg5:
            raise SyscallError(errno.EINVAL)
        return extra.get("no_new_privs", 0)
    if option == PR_GET_SECCOMP:
        return 0                            # no seccomp filter inside the guest yet
    if option == PR_CAPBSET_READ:
        if not 0 <= arg2 <= CAP_LAST_CAP:
            raise SyscallError(errno.EINVAL)
        return 1
    raise SyscallError(errno.EINVAL)


# ---------------------------------------------------------------- process groups, sessions
# One process: the only group and session that exist are the task's own.

def sys_getpgrp(task: Any) -> int:
    return task.pgid


def _process(task: Any, pid: int) -> Any:
    """The thread group `pid` names (0: the caller's), or ESRCH."""
    pid = _s32(pid)
    if pid == 0:
        return task.tg
    if pid < 0:
        raise SyscallError(errno.ESRCH)
    kernel = task.kernel
    find = getattr(kernel, "find_thread_group", None)
    tg = find(pid) if find is not None else (task.tg if pid == task.pid else None)
    if tg is None:
        raise SyscallError(errno.ESRCH)
    return tg


def sys_getpgid(task: Any, pid: int) -> int:
    return _process(task, pid).pgid


def sys_getsid(task: Any, pid: int) -> int:
    return _process(task, pid).sid


def sys_setpgid(task: Any, pid: int, pgid: int) -> int:
    """setpgid(2): the caller or one of its children, into a group of the
    caller's session (or a new group named after the target)."""
    pid, pgid = _s32(pid), _s32(pgid)
    if pgid < 0:
        raise SyscallError(errno.EINVAL)
    me = task.tg
    target = _process(task, pid) if pid else me
    if target is not me:
        if target.parent is not me:
            raise SyscallError(errno.ESRCH)     # neither self nor a child
        if target.sid != me.sid:
            raise SyscallError(errno.EPERM)     # a child in another session
    new_pgid = pgid or target.pid
    if target.sid == target.pid:
        raise SyscallError(errno.EPERM)         # a session leader cannot move
    if new_pgid != target.pid:
        groups = getattr(task.kernel, "thread_groups", {me.pid: me})
        if not any(g.pgid == new_pgid and g.sid == me.sid and not g.zombie
                   for g in groups.values()):
            raise SyscallError(errno.EPERM)     # no such group in this session
    target.pgid = new_pgid
    return 0


def sys_setsid(task: Any) -> int:
    if task.pgid == task.pid:
        raise SyscallError(errno.EPERM)     # already a process group leader
    task.sid = task.pgid = task.pid
    task.tg.ctty = None                     # a new session starts without a terminal
    return task.pid
