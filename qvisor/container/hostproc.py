"""Host-process settings of a sandbox: its network namespace, its OOM score,
and dying with its parent when that parent is a foreground `quark run`.

The guest's pid, uts, ipc and mount namespaces are the sandbox itself (QKernel
gives the guest its own of each); the host network namespace is the one
namespace of config.json that also matters to the host process, so that is
the one entered here: a path joins an existing namespace (setns), no path
makes a new one (unshare).
"""
from __future__ import annotations

import ctypes
import os
import signal
from typing import Any, Iterable

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(Exception):
    """A namespace of config.json cannot be entered; one line."""


def enter_namespaces(namespaces: Iterable[Any]) -> None:
    for ns in namespaces:
        if ns.type != "network":
            continue
        if ns.path:
            _setns(ns.path)
        elif _libc.unshare(CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise NamespaceError(f"cannot make a network namespace: {os.strerror(code)}")


def _setns(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise NamespaceError(f"network namespace {path}: {err.strerror}") from None
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise NamespaceError(f"cannot join network namespace {path}: {os.strerror(code)}")
    finally:
        os.close(fd)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent goes (and at once if it already has)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def set_oom_score_adj(value: int | None) -> None:
    """process.oomScoreAdj, for the sandbox: it is what the host's OOM
    killer sees of the container (runc sets it on the container's init)."""
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as err:
        raise NamespaceError(f"cannot set oom_score_adj to {value}: {err.strerror}") from None


def wait_exit_code(pid: int) -> int:
    """Wait for child `pid`; its exit code, or 128+N when signal N killed it
    (the shell's convention, which runc's callers use too)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
