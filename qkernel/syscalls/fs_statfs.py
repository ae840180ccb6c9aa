"""statfs and fstatfs."""
from __future__ import annotations

from typing import Any

from qkernel.syscalls.fs_common import any_file, read_path
from qkernel.vfs import abi, ops
from qkernel.vfs.statfs import statfs_of_file, statfs_of_mount


def sys_statfs(task: Any, path: int, buf: int) -> int:
    res = ops.lookup(task, abi.AT_FDCWD, read_path(task, path), follow=True)
    ops.stat(task, res)                     # ENOENT/ENOTDIR as the lookup found it
    loc = res.loc
    st = statfs_of_file(task, loc.file) if loc.file is not None else statfs_of_mount(loc.mount)
    task.mm.copy_out(buf, st.pack())
    return 0


def sys_fstatfs(task: Any, fd: int, buf: int) -> int:
    st = statfs_of_file(task, any_file(task, fd))
    task.mm.copy_out(buf, st.pack())
    return 0
