"""clone, clone3, fork, vfork: new tasks and processes.

The child starts from the parent's user context at this syscall's return
(with rax = 0), on a host thread and vCPU of its own (kernel.launcher).
A new process gets a copy of the parent's address space (see
AddressSpace.copy_into for why a copy and not copy-on-write here).
"""
from __future__ import annotations

import errno
import struct
import time

from qkernel.errors import SyscallError
from qkernel.task import SignalAction, Task
from qkernel.threadgroup import ThreadGroup

CSIGNAL = 0x000000FF
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_DETACHED = 0x00400000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_IO = 0x80000000
NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                   | CLONE_NEWPID | CLONE_NEWNET)
SIGCHLD = 17
CLONE_ARGS_SIZE_VER0 = 64


def sys_fork(task: Task) -> int:
    return do_clone(task, SIGCHLD, 0, 0, 0, 0)


def sys_vfork(task: Task) -> int:
    return do_clone(task, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)


def sys_clone(task: Task, flags: int, newsp: int, parent_tid: int, child_tid: int, tls: int) -> int:
    return do_clone(task, flags, newsp, parent_tid, child_tid, tls)


def sys_clone3(task: Task, uargs: int, size: int) -> int:
    if size < CLONE_ARGS_SIZE_VER0 or size > 4096:
        raise SyscallError(errno.EINVAL)
    raw = task.mm.copy_in(uargs, size)
    if any(raw[88:]):                     # cgroup and beyond: not supported
        raise SyscallError(errno.E2BIG if size > 88 else errno.EINVAL)
    (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
     tls) = struct.unpack_from("<8Q", raw, 0)
    set_tid_size = struct.unpack_from("<Q", raw, 72)[0] if size >= 80 else 0
    if set_tid_size or flags & CSIGNAL or exit_signal > 64:
        raise SyscallError(errno.EINVAL)
    sp = stack + stack_size if stack else 0
    return do_clone(task, flags | exit_signal, sp, parent_tid, child_tid, tls)


def _check_flags(flags: int) -> None:
    if flags & NAMESPACE_FLAGS:
        raise SyscallError(errno.EINVAL, "new namespaces inside the sandbox are not supported")
    if flags & (CLONE_PIDFD | CLONE_PTRACE):
        raise SyscallError(errno.EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise SyscallError(errno.EINVAL)
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise SyscallError(errno.EINVAL)
    if flags & CLONE_FS and flags & CLONE_NEWNS:
        raise SyscallError(errno.EINVAL)


def do_clone(task: Task, flags: int, newsp: int, parent_tid: int, child_tid: int, tls: int) -> int:
    _check_flags(flags)
    kernel = task.kernel
    if kernel.launcher is None or task.cpu is None:
        raise SyscallError(errno.ENOSYS)
    tid = kernel.alloc_pid()
    parent_tg = task.tg
    if flags & CLONE_THREAD:
        tg = parent_tg
    else:
        parent = parent_tg.parent if flags & CLONE_PARENT else parent_tg
        tg = ThreadGroup(pid=tid, parent=parent, pgid=parent_tg.pgid, sid=parent_tg.sid,
                         exit_signal=flags & CSIGNAL, start_time_ns=time.monotonic_ns(),
                         exe_path=parent_tg.exe_path, ctty=parent_tg.ctty)
        for attr in ("argv", "envp"):          # /proc/<pid>/cmdline until it execs
            if hasattr(parent_tg, attr):
                setattr(tg, attr, list(getattr(parent_tg, attr)))
        if flags & CLONE_SIGHAND:
            tg.sigactions = parent_tg.sigactions
        else:
            tg.sigactions = {s: SignalAction(a.handler, a.flags, a.restorer, a.mask)
                             for s, a in parent_tg.sigactions.items()}
    if flags & CLONE_VM:
        mm = task.mm
        mm.users = getattr(mm, "users", 1) + 1
    else:
        mm = kernel.new_address_space()     # type: ignore[attr-defined]
        task.mm.copy_into(mm)
    if flags & CLONE_FILES:
        fds = task.fds
        fds.users = getattr(fds, "users", 1) + 1
    else:
        fds = task.fds.fork()
    fs = task.fs if flags & CLONE_FS else task.fs.fork()
    creds = type(task.creds)(**vars(task.creds))
    creds.groups = list(task.creds.groups)
    child = Task(kernel=kernel, mm=mm, fds=fds, fs=fs, creds=creds, pid=tg.pid, tid=tid, tg=tg)
    child.limits.values = list(task.limits.values)
    child.comm = task.comm
    child.sigmask = task.sigmask
    if task.extra.get("no_new_privs"):
        child.extra["no_new_privs"] = 1       # inherited by children, as on Linux
    child.start_time_ns = time.monotonic_ns()
    if not (flags & CLONE_VM and not flags & CLONE_VFORK):
        child.sigaltstack = task.sigaltstack
    regs = task.cpu.user_regs()
    regs.rax = 0
    if newsp:
        regs.rsp = newsp
    if flags & CLONE_SETTLS:
        if tls >= 1 << 47:
            raise SyscallError(errno.EPERM)
        regs.fs_base = tls
    child.fs_base = regs.fs_base
    # Writes into guest memory first: a fault here must leave nothing behind.
    if flags & CLONE_PARENT_SETTID:
        task.mm.write_u32(parent_tid, tid)
    if flags & CLONE_CHILD_SETTID:
        mm.write_u32(child_tid, tid)
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = child_tid
    xsave = task.cpu.get_xsave()
    if tg is not parent_tg:
        tg.parent.children.append(tg) if tg.parent is not None else None
    kernel.register(child)
    if flags & CLONE_VFORK:
        child.vfork_parent = task
        task.extra["vfork_done"] = False
    kernel.launcher.start(child, regs, xsave)
    if flags & CLONE_VFORK:
        # The parent sleeps until the child execs or exits (signals wait too).
        kernel.wait_until(task, lambda: task.extra.get("vfork_done", True), interruptible=False)
    return tid
