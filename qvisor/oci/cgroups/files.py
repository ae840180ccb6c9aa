"""Reading and writing cgroup files, and waiting for one to change."""
from __future__ import annotations

import os
import time
from typing import Any

from qvisor.oci.cgroups.errors import CgroupError
from qvisor.oci.cgroups.resources import UINT64_MAX


def _read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def read_or(directory: str, name: str, default: str | None = None) -> str | None:
    try:
        return _read(directory, name)
    except OSError:
        return default


def write_raw(directory: str, name: str, value: str) -> None:
    # One write(2) per value: cgroup files parse each write as a whole.
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write(directory: str, name: str, value: str) -> None:
    try:
        write_raw(directory, name, value)
    except OSError as err:
        raise CgroupError(f"cannot write {value!r} to {os.path.join(directory, name)}: "
                          f"{err.strerror}") from None


def uint(text: str | None) -> int:
    """A counter from a cgroup file; "max" (unlimited) reads as 2**64-1, missing as 0."""
    if text is None or text == "":
        return 0
    if text == "max":
        return UINT64_MAX
    try:
        return int(text)
    except ValueError:
        return 0


def keyed(text: str | None) -> dict[str, int]:
    """A "key value" per line file (memory.stat, cpu.stat, cgroup.events, ...)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def ints(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split() if x.isdigit()]


def cpu_list(text: str | None) -> list[int]:
    """A cpuset list ("0-3,8") as numbers."""
    out: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            continue
    return out


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
