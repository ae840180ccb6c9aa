"""eventfd, eventfd2 (the file itself is qkernel/vfs/eventfd.py)."""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import install
from qkernel.vfs import abi
from qkernel.vfs.eventfd import EFD_SEMAPHORE, EventFd

EFD_FLAGS = EFD_SEMAPHORE | abi.O_NONBLOCK | abi.O_CLOEXEC


def sys_eventfd2(task: Any, count: int, flags: int) -> int:
    if flags & ~EFD_FLAGS:
        raise SyscallError(errno.EINVAL)
    f = EventFd(count & 0xFFFF_FFFF, flags, task.kernel)
    return install(task, f, bool(flags & abi.O_CLOEXEC))


def sys_eventfd(task: Any, count: int) -> int:
    return sys_eventfd2(task, count, 0)
