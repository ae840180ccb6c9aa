"""execve and execveat: replace the calling process's program.

Everything that can fail (finding, reading, loading the program into a new
address space) happens before the point of no return; after it the old
address space, the other threads, close-on-exec fds and caught signal
handlers are gone, and the task resumes at the new entry point.
"""
from __future__ import annotations

import errno
import os

from qkernel.arch import UserRegs
from qkernel.errors import SyscallError
from qkernel.task import SignalAction, Task

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_SYMLINK_NOFOLLOW = 0x100
MAX_ARG_STRINGS = 0x7FFFFFFF
MAX_ARGS_BYTES = 2 << 20          # argv + envp, as Linux's default stack-based limit
SIG_IGN = 1


def read_string_array(task: Task, addr: int) -> list[bytes]:
    """A NULL-terminated array of C strings (argv/envp); NULL itself is empty."""
    out: list[bytes] = []
    if addr == 0:
        return out
    total = 0
    while True:
        ptr = task.mm.read_u64(addr + 8 * len(out))
        if ptr == 0:
            return out
        s = task.mm.read_cstring(ptr, 128 * 1024)
        total += len(s) + 1 + 8
        if total > MAX_ARGS_BYTES:
            raise SyscallError(errno.E2BIG)
        out.append(s)


def sys_execve(task: Task, filename: int, argv: int, envp: int) -> int:
    path = task.mm.read_cstring(filename).decode(errors="surrogateescape")
    return do_execve(task, path, read_string_array(task, argv), read_string_array(task, envp))


def sys_execveat(task: Task, fd: int, filename: int, argv: int, envp: int, flags: int) -> int:
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW):
        raise SyscallError(errno.EINVAL)
    path = task.mm.read_cstring(filename).decode(errors="surrogateescape")
    if not path and flags & AT_EMPTY_PATH:
        file = task.fds.get(fd)
        path = getattr(file, "path", "") or ""
        if not path:
            raise SyscallError(errno.ENOENT)
    elif not path.startswith("/") and fd != AT_FDCWD:
        file = task.fds.get(fd)
        base = getattr(file, "path", "") or ""
        if not base:
            raise SyscallError(errno.ENOTDIR)
        path = os.path.join(base, path)
    return do_execve(task, path, read_string_array(task, argv), read_string_array(task, envp))


def do_execve(task: Task, path: str, argv: list[bytes], envp: list[bytes]) -> int:
    kernel = task.kernel
    if task.cpu is None:
        raise SyscallError(errno.ENOSYS)
    if not path:
        raise SyscallError(errno.ENOENT)
    from qkernel.loader.init import load_image
    mm = kernel.new_address_space()          # type: ignore[attr-defined]
    try:
        entry, rsp, exe_path, comm = load_image(task, mm, path, argv, envp)
    except BaseException:
        mm.release()
        raise
    # ---- the point of no return -------------------------------------------------
    _kill_other_threads(task)
    old = task.mm
    old.users = getattr(old, "users", 1) - 1
    if old.users <= 0:
        old.release()
    task.mm = mm
    if getattr(task.fds, "users", 1) > 1:          # CLONE_FILES: exec gets its own table
        task.fds.users -= 1
        task.fds = task.fds.fork()
    task.fds.close_on_exec()
    _reset_signal_handlers(task)
    task.sigaltstack = (0, 2, 0)
    task.exe_path = exe_path
    task.comm = comm
    task.clear_child_tid = 0
    task.robust_list = (0, 0)
    task.rseq = (0, 0, 0)
    task.fs_base = 0
    parent = task.vfork_parent
    if parent is not None:
        parent.extra["vfork_done"] = True
        task.vfork_parent = None
    cpu = task.cpu
    cpu.set_address_space(mm)
    cpu.set_xsave(cpu._clean_xsave if hasattr(cpu, "_clean_xsave") else cpu.get_xsave())
    cpu.set_user_regs(UserRegs(rip=entry, rsp=rsp))
    from qkernel import timers
    from qkernel.vfs.procfs import record_exec
    record_exec(task, argv, envp)
    timers.on_exec(kernel, task.tg)
    kernel.notify()
    return 0


def _kill_other_threads(task: Task) -> None:
    """exec leaves the calling thread alone in its group (it takes the leader's tid too)."""
    tg = task.tg
    others = [t for t in tg.tasks.values() if t is not task]
    if not others:
        return
    for t in others:
        t.extra["exec_killed"] = True
        if t.cpu is not None:
            t.cpu.kick()
    # v1 simplification: the other threads leave at their next exit from the
    # guest (they see exec_killed); we do not wait for them here.


def _reset_signal_handlers(task: Task) -> None:
    tg = task.tg
    fresh = {}
    for signo, action in tg.sigactions.items():
        if action.handler == SIG_IGN:
            fresh[signo] = SignalAction(SIG_IGN, 0, 0, 0)
    # A private table: a CLONE_SIGHAND sharer keeps its own handlers.
    tg.sigactions = fresh
