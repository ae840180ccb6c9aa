"""Writing limits in cgroup v2 (one unified hierarchy)."""
from __future__ import annotations

import logging
import os

from qvisor.oci.cgroups.errors import CgroupError
from qvisor.oci.cgroups.files import read_or, write, write_raw
from qvisor.oci.cgroups.layout import levels
from qvisor.oci.cgroups.resources import CPU_SHARES_MAX, CPU_SHARES_MIN, Resources

log = logging.getLogger("quark")

# v2 controllers quark writes; enabled in every ancestor's subtree_control.
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids")


def v2_limit_str(value: int) -> str:
    return "max" if value < 0 else str(value)


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) to cpu.weight (1..10000), runc's linear mapping."""
    shares = min(max(shares, CPU_SHARES_MIN), CPU_SHARES_MAX)
    return 1 + ((shares - 2) * 9999) // 262142


def memory_swap_v2(swap: int | None, memory: int | None) -> int | None:
    """OCI memory.swap (memory+swap) as v2 memory.swap.max (swap alone); -1 = max.

    memory is the memory limit in force (the new one, or the current one).
    """
    if swap is None:
        # Lifting the memory limit lifts swap too, as v1's memsw would have to be.
        return -1 if memory == -1 else None
    if swap == -1 or memory == -1:
        return swap
    if memory is None:
        raise CgroupError("cannot set memory.swap without a memory limit")
    if swap < memory:
        raise CgroupError(f"memory+swap limit {swap} is below the memory limit {memory}")
    return swap - memory


def v2_write(directory: str, name: str, value: str, controller: str) -> None:
    if not os.path.exists(os.path.join(directory, name)):
        raise CgroupError(f"cannot write {value!r} to {directory}/{name}: no such file (is the "
                          f"{controller} controller enabled in the parent's "
                          f"cgroup.subtree_control?)")
    write(directory, name, value)


def v2_memory(directory: str, res: Resources) -> None:
    memory = res.memory_limit
    if memory is None and res.memory_swap is not None:
        # An update of swap alone: relative to the limit already in force.
        current = read_or(directory, "memory.max")
        memory = -1 if current in (None, "max") else int(current)
    swap = memory_swap_v2(res.memory_swap, memory)
    if swap is not None:
        if os.path.exists(os.path.join(directory, "memory.swap.max")):
            write(directory, "memory.swap.max", v2_limit_str(swap))
        elif res.memory_swap is not None:
            log.warning("cgroup: %s/memory.swap.max does not exist (no swap accounting); "
                        "memory.swap=%d not applied", directory, res.memory_swap)
    if res.memory_limit is not None:
        v2_write(directory, "memory.max", v2_limit_str(res.memory_limit), "memory")
    if res.memory_reservation is not None:
        v2_write(directory, "memory.low", v2_limit_str(res.memory_reservation), "memory")


def v2_cpu_max(directory: str, res: Resources) -> None:
    """cpu.max is "QUOTA PERIOD"; keep the half the caller did not give."""
    quota = res.cpu_quota
    if quota is None:
        current = (read_or(directory, "cpu.max") or "max").split()
        text = current[0] if current else "max"
    else:
        text = v2_limit_str(quota)
    if res.cpu_period is not None:
        text += f" {res.cpu_period}"
    v2_write(directory, "cpu.max", text, "cpu")


def enable_v2_controllers(mountpoint: str, directory: str) -> None:
    """Turn on quark's controllers in the subtree_control of every ancestor.

    A non-root cgroup with processes in it cannot delegate (EBUSY, the "no
    internal processes" rule): warn and go on; apply() fails later only if a
    limit actually needs the missing controller.
    """
    for level in [mountpoint] + levels(mountpoint, directory)[:-1]:
        available = set((read_or(level, "cgroup.controllers") or "").split())
        enabled = set((read_or(level, "cgroup.subtree_control") or "").split())
        for name in V2_CONTROLLERS:
            if name not in available:
                log.debug("cgroup: controller %s not available in %s", name, level)
                continue
            if name in enabled:
                continue
            try:
                write_raw(level, "cgroup.subtree_control", f"+{name}")
            except OSError as err:
                log.warning("cgroup: cannot enable %s in %s/cgroup.subtree_control: %s",
                            name, level, err.strerror)
