"""Resources: the parts of linux.resources quark applies, and `quark update`'s flags.

Cgroup.apply (qvisor.oci.cgroups.cgroup) writes them to the container's cgroup.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from qvisor.oci.errors import BundleError
from qvisor.oci.fields import get_object, get_string, json_type

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

CPU_SHARES_MIN, CPU_SHARES_MAX = 2, 262144      # kernel clamps cpu.shares to this range


@dataclass
class Resources:
    """Limits to write; None leaves a setting as it is. -1 means unlimited.

    As in runc, a 0 in config.json means "not set" for every field here
    (runc treats 0 as unset for memory, shares, quota, period and pids).
    """
    memory_limit: int | None = None         # bytes
    memory_reservation: int | None = None   # bytes (soft limit / memory.low)
    memory_swap: int | None = None          # bytes of memory + swap (OCI/v1 semantics)
    pids_limit: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None            # microseconds per period
    cpu_period: int | None = None           # microseconds
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def merged(self, override: "Resources") -> "Resources":
        """self with every field that override sets replaced by override's."""
        changes = {f.name: getattr(override, f.name) for f in fields(override)
                   if getattr(override, f.name) is not None}
        return replace(self, **changes)

    def wants_memory(self) -> bool:
        return (self.memory_limit, self.memory_reservation, self.memory_swap) != (None,) * 3

    def wants_cpu(self) -> bool:
        return (self.cpu_shares, self.cpu_quota, self.cpu_period) != (None,) * 3

    def wants_cpuset(self) -> bool:
        return (self.cpuset_cpus, self.cpuset_mems) != (None, None)


def parse_resources(linux: dict[str, Any] | None) -> Resources:
    """Resources from config.json's "linux" object (BundleError names the field)."""
    if linux is None:
        return Resources()
    if not isinstance(linux, dict):
        raise BundleError(f"linux: expected an object, got {json_type(linux)}")
    resources = get_object(linux, "resources", "linux.resources", default={})
    return parse_resources_object(resources, "linux.resources")


def parse_resources_object(obj: dict[str, Any], where: str) -> Resources:
    """Resources from an OCI LinuxResources object found at `where`.

    Also the shape of the file `runc update -r FILE` reads (where="" then).
    """
    prefix = f"{where}." if where else ""
    memory = get_object(obj, "memory", f"{prefix}memory", default={})
    cpu = get_object(obj, "cpu", f"{prefix}cpu", default={})
    pids = get_object(obj, "pids", f"{prefix}pids", default={})
    return Resources(
        memory_limit=_memory_field(memory, "limit", f"{prefix}memory.limit"),
        memory_reservation=_memory_field(memory, "reservation", f"{prefix}memory.reservation"),
        memory_swap=_memory_field(memory, "swap", f"{prefix}memory.swap"),
        pids_limit=_pids_field(pids, f"{prefix}pids.limit"),
        cpu_shares=_unset_if_zero(_int_field(cpu, "shares", f"{prefix}cpu.shares", 0, UINT64_MAX)),
        cpu_quota=_quota_field(cpu, f"{prefix}cpu.quota"),
        cpu_period=_unset_if_zero(_int_field(cpu, "period", f"{prefix}cpu.period", 0, UINT64_MAX)),
        cpuset_cpus=_string_field(cpu, "cpus", f"{prefix}cpu.cpus"),
        cpuset_mems=_string_field(cpu, "mems", f"{prefix}cpu.mems"),
    )


def _int_field(obj: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BundleError(f"{where}: expected an integer, got {json_type(value)}")
    if not lo <= value <= hi:
        raise BundleError(f"{where}: {value} is out of range {lo}..{hi}")
    return value


def _unset_if_zero(value: int | None) -> int | None:
    return None if value == 0 else value


def _memory_field(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = _int_field(obj, key, where, INT64_MIN, INT64_MAX)
    if value is not None and value < -1:
        # The kernel takes -1 as "no limit" and refuses other negative sizes.
        raise BundleError(f"{where}: {value} is not a size (-1 means unlimited)")
    return _unset_if_zero(value)


def _quota_field(obj: dict[str, Any], where: str) -> int | None:
    value = _int_field(obj, "quota", where, INT64_MIN, INT64_MAX)
    # cpu.cfs_quota_us takes any negative value as "no limit"; keep one spelling.
    return -1 if value is not None and value < 0 else _unset_if_zero(value)


def _pids_field(obj: dict[str, Any], where: str) -> int | None:
    value = _int_field(obj, "limit", where, INT64_MIN, INT64_MAX)
    # runc: a negative limit is "max", 0 leaves pids.max alone.
    return -1 if value is not None and value < 0 else _unset_if_zero(value)


def _string_field(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = get_string(obj, key, where, default=None)
    return value or None


# ---- quark update ---------------------------------------------------------

# runc update's flags -> (Resources field, value parser).
UPDATE_FLAGS: dict[str, tuple[str, str]] = {
    "memory": ("memory_limit", "size"),
    "memory-reservation": ("memory_reservation", "size"),
    "memory-swap": ("memory_swap", "size"),
    "pids-limit": ("pids_limit", "int"),
    "cpu-shares": ("cpu_shares", "uint"),
    "cpu-quota": ("cpu_quota", "int"),
    "cpu-period": ("cpu_period", "uint"),
    "cpuset-cpus": ("cpuset_cpus", "str"),
    "cpuset-mems": ("cpuset_mems", "str"),
}

_SIZE_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+) ?(?:([kmgtp])(i)?)?(b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_memory_size(text: str) -> int:
    """A runc/docker memory size: "-1", "1048576", "512m", "1g", "1.5GiB", "64 KB".

    Units are binary and case-insensitive, the trailing b and the i are
    optional (go-units RAMInBytes, which runc update uses). ValueError if bad.
    """
    text = text.strip()
    if text == "-1":
        return -1
    match = _SIZE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid size {text!r} (bytes, or a number with k, m, g, t or p)")
    number, unit, _, _ = match.groups()
    size = int(float(number) * _SIZE_UNITS[(unit or "").lower()])
    if size > INT64_MAX:
        raise ValueError(f"invalid size {text!r}: too large")
    return size


def parse_update_flags(values: dict[str, str | None]) -> Resources:
    """Resources from `quark update` flags; keys are flag names ("memory",
    "--cpu-quota", "cpuset_cpus" all work), None or "" means not given."""
    res = Resources()
    for raw_key, value in values.items():
        if value is None or value == "":
            continue
        key = raw_key.lstrip("-").replace("_", "-")
        if key not in UPDATE_FLAGS:
            raise ValueError(f"parse_update_flags: unknown flag {raw_key!r}")
        name, kind = UPDATE_FLAGS[key]
        setattr(res, name, _flag_value(key, kind, str(value)))
    return res


def _flag_value(flag: str, kind: str, text: str) -> int | str | None:
    try:
        if kind == "size":
            return _unset_if_zero(parse_memory_size(text))
        if kind == "str":
            return text
        number = int(text, 10)
    except ValueError as err:
        msg = str(err) if kind == "size" else f"invalid integer {text!r}"
        raise BundleError(f"--{flag}: {msg}") from None
    lo, hi = (0, UINT64_MAX) if kind == "uint" else (INT64_MIN, INT64_MAX)
    if not lo <= number <= hi:
        raise BundleError(f"--{flag}: {number} is out of range {lo}..{hi}")
    if number < 0:
        return -1      # quota/pids: any negative value means unlimited
    return _unset_if_zero(number)


def resources_from_update(doc: dict[str, Any] | None,
                          flags: dict[str, str | None]) -> Resources:
    """What `quark update` applies: the -r file (an OCI LinuxResources object,
    decoded) with the flags on top. runc ignores the flags when -r is given;
    quark merges them, the flags winning, which is the same when only one is used."""
    base = Resources()
    if doc is not None:
        if not isinstance(doc, dict):
            raise BundleError(f"resources: expected an object, got {json_type(doc)}")
        base = parse_resources_object(doc, "")
    return base.merged(parse_update_flags(flags))
