"""Calling syscall handlers directly in unit tests, as the dispatcher does
(with the kernel lock held)."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from qkernel.errors import SyscallError


def call(task: Any, fn: Callable[..., int], *args: Any) -> int:
    with task.kernel.lock:
        return fn(task, *args)


def err(task: Any, fn: Callable[..., int], *args: Any) -> int:
    """The errno a handler fails with (the test fails if it succeeds)."""
    with pytest.raises(SyscallError) as ei:
        call(task, fn, *args)
    return ei.value.errno
