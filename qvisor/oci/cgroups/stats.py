"""A cgroup's statistics in runc's shape: the "data" of `runc events --stats`.

runc types.Stats; Go's omitempty fields are left out when zero.
"""
from __future__ import annotations

import os
from typing import Any

from qvisor.oci.cgroups.files import cpu_list, ints, keyed, read_or, uint
from qvisor.oci.cgroups.resources import UINT64_MAX

NANOS = 1_000_000_000


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    if value:
        d[key] = value


def _memory_entry(limit: int, usage: int, peak: int, failcnt: int) -> dict[str, int]:
    entry: dict[str, Any] = {"limit": limit}
    _put(entry, "usage", usage)
    _put(entry, "max", peak)
    entry["failcnt"] = failcnt
    return entry


def _cpu_stats(total: int, percpu: list[int], percpu_kernel: list[int], percpu_user: list[int],
               kernel: int, user: int, throttle: dict[str, int]) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    _put(usage, "total", total)
    _put(usage, "percpu", percpu)
    _put(usage, "percpu_kernel", percpu_kernel)
    _put(usage, "percpu_user", percpu_user)
    usage["kernel"] = kernel
    usage["user"] = user
    throttling: dict[str, Any] = {}
    _put(throttling, "periods", throttle.get("periods", 0))
    _put(throttling, "throttledPeriods", throttle.get("throttled_periods", 0))
    _put(throttling, "throttledTime", throttle.get("throttled_time", 0))
    return {"usage": usage, "throttling": throttling}


def _empty_stats() -> dict[str, Any]:
    return {"cpu": _cpu_stats(0, [], [], [], 0, 0, {}), "cpuset": {},
            "memory": {"usage": _memory_entry(0, 0, 0, 0), "swap": _memory_entry(0, 0, 0, 0),
                       "kernel": _memory_entry(0, 0, 0, 0),
                       "kernelTCP": _memory_entry(0, 0, 0, 0)},
            "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None}


def _pids_stats(directory: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    if directory is None:
        return out
    _put(out, "current", uint(read_or(directory, "pids.current")))
    limit = read_or(directory, "pids.max")
    _put(out, "limit", 0 if limit == "max" else uint(limit))    # runc: unlimited is 0
    return out


def stats_v1(dirs: dict[str, str]) -> dict[str, Any]:
    stats = _empty_stats()
    cpuacct, cpu = dirs.get("cpuacct"), dirs.get("cpu")
    if cpuacct or cpu:
        ticks = os.sysconf("SC_CLK_TCK")
        acct = keyed(read_or(cpuacct, "cpuacct.stat")) if cpuacct else {}
        raw = keyed(read_or(cpu, "cpu.stat")) if cpu else {}
        stats["cpu"] = _cpu_stats(
            total=uint(read_or(cpuacct, "cpuacct.usage")) if cpuacct else 0,
            percpu=ints(read_or(cpuacct, "cpuacct.usage_percpu")) if cpuacct else [],
            percpu_kernel=ints(read_or(cpuacct, "cpuacct.usage_percpu_sys")) if cpuacct else [],
            percpu_user=ints(read_or(cpuacct, "cpuacct.usage_percpu_user")) if cpuacct else [],
            # cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds.
            kernel=acct.get("system", 0) * NANOS // ticks,
            user=acct.get("user", 0) * NANOS // ticks,
            throttle={"periods": raw.get("nr_periods", 0),
                      "throttled_periods": raw.get("nr_throttled", 0),
                      "throttled_time": raw.get("throttled_time", 0)})
    if "cpuset" in dirs:
        stats["cpuset"] = _cpuset_stats_v1(dirs["cpuset"])
    memory = dirs.get("memory")
    if memory:
        raw = keyed(read_or(memory, "memory.stat"))
        entries = {}
        for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"),
                            ("kernel", "memory.kmem"), ("kernelTCP", "memory.kmem.tcp")):
            entries[key] = _memory_entry(
                uint(read_or(memory, f"{prefix}.limit_in_bytes")),
                uint(read_or(memory, f"{prefix}.usage_in_bytes")),
                uint(read_or(memory, f"{prefix}.max_usage_in_bytes")),
                uint(read_or(memory, f"{prefix}.failcnt")))
        mem: dict[str, Any] = {}
        _put(mem, "cache", raw.get("cache", 0))
        mem.update(entries)
        _put(mem, "raw", raw)
        stats["memory"] = mem
    stats["pids"] = _pids_stats(dirs.get("pids"))
    return stats


_CPUSET_V1_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
                    "memory_spread_page", "memory_spread_slab", "memory_pressure",
                    "sched_load_balance", "sched_relax_domain_level")


def _cpuset_stats_v1(directory: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "cpus", cpu_list(read_or(directory, "cpuset.cpus")))
    for flag in _CPUSET_V1_FLAGS[:3]:
        out[flag] = uint(read_or(directory, f"cpuset.{flag}"))
    _put(out, "mems", cpu_list(read_or(directory, "cpuset.mems")))
    for flag in _CPUSET_V1_FLAGS[3:]:
        text = read_or(directory, f"cpuset.{flag}")
        out[flag] = int(text) if text and text.lstrip("-").isdigit() else 0
    return out


def stats_v2(directory: str | None) -> dict[str, Any]:
    stats = _empty_stats()
    if directory is None:
        return stats
    raw = keyed(read_or(directory, "cpu.stat"))
    stats["cpu"] = _cpu_stats(
        total=raw.get("usage_usec", 0) * 1000, percpu=[], percpu_kernel=[], percpu_user=[],
        kernel=raw.get("system_usec", 0) * 1000, user=raw.get("user_usec", 0) * 1000,
        throttle={"periods": raw.get("nr_periods", 0),
                  "throttled_periods": raw.get("nr_throttled", 0),
                  "throttled_time": raw.get("throttled_usec", 0) * 1000})
    cpus = read_or(directory, "cpuset.cpus") or read_or(directory, "cpuset.cpus.effective")
    mems = read_or(directory, "cpuset.mems") or read_or(directory, "cpuset.mems.effective")
    cpuset: dict[str, Any] = {}
    _put(cpuset, "cpus", cpu_list(cpus))
    _put(cpuset, "mems", cpu_list(mems))
    stats["cpuset"] = cpuset
    if os.path.exists(os.path.join(directory, "memory.current")):
        stats["memory"] = _memory_stats_v2(directory)
    stats["pids"] = _pids_stats(directory)
    return stats


def _memory_stats_v2(directory: str) -> dict[str, Any]:
    raw = keyed(read_or(directory, "memory.stat"))
    events = keyed(read_or(directory, "memory.events"))
    usage = _memory_entry(uint(read_or(directory, "memory.max")),
                          uint(read_or(directory, "memory.current")),
                          uint(read_or(directory, "memory.peak")),
                          events.get("max", 0))
    # v1 reports swap as memory+swap; runc keeps that meaning on v2.
    swap_limit = uint(read_or(directory, "memory.swap.max"))
    if swap_limit != UINT64_MAX and usage["limit"] != UINT64_MAX:
        swap_limit += usage["limit"]
    swap = _memory_entry(swap_limit if os.path.exists(os.path.join(directory, "memory.swap.max"))
                         else 0,
                         uint(read_or(directory, "memory.swap.current")) + usage.get("usage", 0),
                         uint(read_or(directory, "memory.swap.peak")), 0)
    mem: dict[str, Any] = {}
    _put(mem, "cache", raw.get("file", 0))
    mem["usage"] = usage
    mem["swap"] = swap
    mem["kernel"] = _memory_entry(0, 0, 0, 0)
    mem["kernelTCP"] = _memory_entry(0, 0, 0, 0)
    _put(mem, "raw", raw)
    return mem
