"""Errors a syscall handler raises; the dispatcher turns them into -errno."""
from __future__ import annotations

import errno as _errno


class SyscallError(Exception):
    """A syscall failed with a Linux errno (positive number)."""

    def __init__(self, err: int, detail: str = "") -> None:
        super().__init__(f"{_errno.errorcode.get(err, err)}{': ' + detail if detail else ''}")
        self.errno = err


class MustExit(Exception):
    """Raised when a request served by the QCall poller must instead be
    served on the vCPU thread (it would block, or it needs vCPU state)."""
