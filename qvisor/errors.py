"""Errors shared by the sandbox and the commands that talk to it, kept apart
from qvisor.sandbox so that light commands (state, kill, exec) need not load
KVM and QKernel to name them."""
from __future__ import annotations


class SandboxError(Exception):
    """The container (or a process in it) cannot start; `status` is the exit
    status to report (126 cannot execute, 127 not found, as runc)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
