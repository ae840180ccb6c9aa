"""Writing limits and freezing in cgroup v1 (one hierarchy per controller)."""
from __future__ import annotations

import errno
import logging
import os
import posixpath
import time

from qvisor.oci.cgroups.errors import CgroupError
from qvisor.oci.cgroups.files import read_or, uint, wait_for, write, write_raw
from qvisor.oci.cgroups.layout import levels
from qvisor.oci.cgroups.resources import CPU_SHARES_MAX, CPU_SHARES_MIN, Resources

log = logging.getLogger("quark")


def _v1_limit_str(value: int) -> str:
    return str(value)      # v1 files take -1 for "no limit"


def v1_memory(directory: str, res: Resources) -> None:
    limit, swap = res.memory_limit, res.memory_swap
    memsw = os.path.exists(os.path.join(directory, "memory.memsw.limit_in_bytes"))
    if swap is not None and not memsw:
        log.warning("cgroup: %s/memory.memsw.limit_in_bytes does not exist (no swap accounting "
                    "in this kernel); memory.swap=%d not applied", directory, swap)
        swap = None
    if limit == -1 and swap is None and memsw:
        swap = -1      # an unlimited memory limit cannot stay above a finite memsw
    if limit is not None and swap is not None:
        # The kernel keeps limit <= memsw at every step: order the two writes.
        current = uint(read_or(directory, "memory.limit_in_bytes"))
        if swap == -1 or current < swap:
            write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
            _v1_memory_limit(directory, limit)
        else:
            _v1_memory_limit(directory, limit)
            write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
    elif limit is not None:
        _v1_memory_limit(directory, limit)
    elif swap is not None:
        write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
    if res.memory_reservation is not None:
        write(directory, "memory.soft_limit_in_bytes", _v1_limit_str(res.memory_reservation))


def _v1_memory_limit(directory: str, limit: int) -> None:
    try:
        write_raw(directory, "memory.limit_in_bytes", _v1_limit_str(limit))
    except OSError as err:
        target = os.path.join(directory, "memory.limit_in_bytes")
        if err.errno == errno.EBUSY:
            # The kernel could not reclaim down to the new limit.
            usage = read_or(directory, "memory.usage_in_bytes")
            peak = read_or(directory, "memory.max_usage_in_bytes")
            raise CgroupError(f"cannot set {target} to {limit}: current usage {usage}, "
                              f"peak usage {peak}") from None
        if err.errno == errno.EINVAL and limit > 0:
            memsw = read_or(directory, "memory.memsw.limit_in_bytes")
            if memsw is not None and uint(memsw) < limit:
                raise CgroupError(f"cannot set {target} to {limit}: above the memory+swap "
                                  f"limit {memsw} (raise memory.swap too)") from None
        raise CgroupError(f"cannot write {str(limit)!r} to {target}: {err.strerror}") from None


def v1_cpu(directory: str, res: Resources) -> None:
    if res.cpu_shares is not None:
        write(directory, "cpu.shares", str(res.cpu_shares))
        got = uint(read_or(directory, "cpu.shares"))
        if got != res.cpu_shares:
            # The kernel clamps silently; runc reports it, so do we.
            raise CgroupError(f"cpu.shares: asked for {res.cpu_shares}, the kernel set {got} "
                              f"(allowed {CPU_SHARES_MIN}..{CPU_SHARES_MAX})")
    quota_done = False
    if res.cpu_period is not None:
        try:
            write_raw(directory, "cpu.cfs_period_us", str(res.cpu_period))
        except OSError as err:
            # A shorter period can break the quota/period ratio the old quota
            # allowed; runc retries with the quota first in that case.
            if err.errno != errno.EINVAL or res.cpu_quota is None:
                raise CgroupError(f"cannot write {str(res.cpu_period)!r} to "
                                  f"{directory}/cpu.cfs_period_us: {err.strerror}") from None
            write(directory, "cpu.cfs_quota_us", str(res.cpu_quota))
            write(directory, "cpu.cfs_period_us", str(res.cpu_period))
            quota_done = True
    if res.cpu_quota is not None and not quota_done:
        write(directory, "cpu.cfs_quota_us", str(res.cpu_quota))


def v1_freeze(directory: str, timeout: float) -> None:
    """FROZEN, then wait while the kernel reports FREEZING.

    A freeze can stall on a task stuck in the kernel; as runc does, thaw and
    try again rather than wait forever, then give up thawed.
    """
    deadline = time.monotonic() + timeout
    while True:
        write(directory, "freezer.state", "FROZEN")
        if wait_for(lambda: read_or(directory, "freezer.state") == "FROZEN", 0.1):
            return
        if time.monotonic() >= deadline:
            _write_raw_quiet(directory, "freezer.state", "THAWED")
            raise CgroupError(f"{directory}/freezer.state: still FREEZING after "
                              f"{timeout:g}s; thawed again")
        _write_raw_quiet(directory, "freezer.state", "THAWED")


def _write_raw_quiet(directory: str, name: str, value: str) -> None:
    try:
        write_raw(directory, name, value)
    except OSError as err:
        log.warning("cgroup: cannot write %r to %s/%s: %s", value, directory, name, err.strerror)


def fill_cpuset(mountpoint: str, directory: str) -> None:
    """A new v1 cpuset has empty cpus and mems, and a task cannot join it until
    they are set: copy them down from the parent at every level that lacks them."""
    for level in levels(mountpoint, directory):
        parent = posixpath.dirname(level)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if read_or(level, name, "") == "":
                value = read_or(parent, name, "")
                if value:
                    write(level, name, value)
