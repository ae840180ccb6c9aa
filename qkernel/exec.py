"""Finding and reading the program a task executes (through the VFS only).

Loading it is qkernel/loader/program.py's load_program (which does its own
lookup and exec permission check).
"""
from __future__ import annotations

import errno
import os

from qkernel.errors import SyscallError
from qkernel.task import Task
from qkernel.vfs import abi, ops

AT_FDCWD = -100


def find_program(task: Task, name: str, env: list[str]) -> str:
    """The guest path of `name`, searched in PATH when it has no slash (as execvp)."""
    if "/" in name:
        return name
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for item in env:
        if item.startswith("PATH="):
            path = item[5:]
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = ops.stat(task, ops.lookup(task, AT_FDCWD, candidate))
        except SyscallError:
            continue
        if st.mode & abi.S_IFMT == abi.S_IFREG and st.mode & 0o111:
            return candidate
    raise SyscallError(errno.ENOENT, f"{name}: executable file not found in $PATH")
