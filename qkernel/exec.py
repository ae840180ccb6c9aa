"""Finding and reading the program a task executes (through the VFS only).

Loading it is qkernel/loader/program.py's load_program (which does its own
lookup and exec permission check); read_executable stays for the old
static-only path until every caller has moved.
"""
from __future__ import annotations

import errno
import os

from qkernel.errors import SyscallError
from qkernel.task import Task
from qkernel.vfs import abi, ops, perm

AT_FDCWD = -100
MAX_EXECUTABLE = 1 << 30


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


def read_executable(task: Task, path: str) -> bytes:
    """The whole file at `path`, if it is a regular file the task may execute."""
    st = ops.stat(task, ops.lookup(task, AT_FDCWD, path))
    if st.mode & abi.S_IFMT == abi.S_IFDIR:
        raise SyscallError(errno.EACCES, f"{path}: is a directory")
    if st.mode & abi.S_IFMT != abi.S_IFREG or not perm.allowed(st, task.creds, abi.X_OK):
        raise SyscallError(errno.EACCES, f"{path}: permission denied")
    if st.size > MAX_EXECUTABLE:
        raise SyscallError(errno.E2BIG, f"{path}: too large")
    f = ops.open_at(task, AT_FDCWD, path, abi.O_RDONLY, 0)
    try:
        chunks = []
        offset = 0
        while True:
            chunk = f.pread(task, 1 << 22, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        f.decref()
