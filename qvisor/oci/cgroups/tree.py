"""A cgroup's directory tree: make it, walk it, move a process in, remove it."""
from __future__ import annotations

import errno
import os
import time
from typing import Iterator

from qvisor.oci.cgroups.files import ints, read_or, write_raw


def make_dir(directory: str) -> None:
    os.makedirs(directory, mode=0o755, exist_ok=True)


def write_procs(directory: str, pid: int) -> None:
    # EINVAL can mean the task is still being created (TASK_NEW): retry a bit.
    for attempt in range(5):
        try:
            write_raw(directory, "cgroup.procs", str(pid))
            return
        except OSError as err:
            if err.errno != errno.EINVAL or attempt == 4:
                raise
            time.sleep(0.03)


def walk_dirs(directory: str) -> Iterator[str]:
    yield directory
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk_dirs(entry.path)


def remove_tree(directory: str, deadline: float) -> str | None:
    """rmdir directory after its sub-cgroups; an error text, or None when gone."""
    for sub in sorted(walk_dirs(directory), key=lambda d: d.count("/"), reverse=True):
        while True:
            try:
                os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError as err:
                if err.errno == errno.EBUSY and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                left = ints(read_or(sub, "cgroup.procs"))
                detail = f" (processes still in it: {left})" if left else ""
                return f"cannot remove cgroup {sub}: {err.strerror}{detail}"
    return None
