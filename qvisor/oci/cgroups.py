"""The host cgroup of a container's sandbox process, and linux.resources.

Every container runs in one host process (the sandbox); like runc, quark
places that process in the container's cgroup and writes the limits of
config.json's linux.resources there, so the host enforces them on the whole
VM (guest memory, vCPU threads, QKernel).

Two host layouts are supported, detected from /proc/self/mountinfo:
- cgroup v1, possibly "hybrid": one hierarchy per controller
  (/sys/fs/cgroup/memory, .../pids, ...), maybe a controller-less cgroup2 at
  /sys/fs/cgroup/unified. The v1 files are used; the unified hierarchy and
  name=systemd are joined only so the process is tracked there too.
- cgroup v2 ("unified"): one hierarchy; controllers are enabled in each
  parent's cgroup.subtree_control and the v2 files are used.

Paths follow runc (libcontainer/cgroups/fs, fs2, specconv):
- an absolute linux.cgroupsPath is relative to each hierarchy's root;
- a relative one is relative to the runtime's own cgroup of that hierarchy
  (/proc/self/cgroup) in v1, and to the *parent* of the runtime's own cgroup
  in v2 (its own cgroup has processes, so it could not delegate controllers);
- an empty one means the container id, relative.
- with --systemd-cgroup the path is "slice:prefix:name" and the cgroup is
  <expanded slice>/<prefix>-<name>.scope (an empty path means
  system.slice:runc:<id>). quark does not talk to systemd (no D-Bus here):
  it creates that directory itself with cgroupfs, the layout systemd would
  give the scope. On a host where systemd manages the tree, systemd may
  later move or remove what it does not know about.

A relative path resolves against the cgroup of the process that resolves it:
keep Cgroup.paths (e.g. in state.json) and hand it to Cgroup.open() so later
commands run from another cgroup find the same directories.
"""
from __future__ import annotations

import errno
import logging
import os
import posixpath
import re
import signal
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterator

from qvisor.oci.errors import BundleError
from qvisor.oci.fields import get_object, get_string, json_type

log = logging.getLogger("quark")

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"
UNIFIED = "unified"             # key of the cgroup2 directory in Cgroup.paths

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

# The v1 hierarchies a container joins, as runc's fs manager does. Only
# memory, pids, cpu, cpuset and freezer carry settings quark writes; joining
# the others keeps accounting and tools (systemd-cgls, ps -o cgroup) right.
V1_JOIN = ("cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
           "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc", "name=systemd")
# Hierarchies whose failure to join is only worth a warning: they hold no limit.
V1_OPTIONAL = frozenset({"name=systemd", "misc", "rdma", "perf_event", "net_cls", "net_prio",
                         "hugetlb", "blkio", "devices", UNIFIED})
# v2 controllers quark writes; enabled in every ancestor's subtree_control.
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids")

CPU_SHARES_MIN, CPU_SHARES_MAX = 2, 262144      # kernel clamps cpu.shares to this range
FREEZE_TIMEOUT = 5.0


class CgroupError(Exception):
    """A cgroup operation failed; str() is one line naming the file and value."""

    def __init__(self, msg: str) -> None:
        super().__init__(" ".join(str(msg).split()))


# --------------------------------------------------------------------------
# Resources: the parts of linux.resources quark applies
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------

def clean_path(path: str) -> str:
    """runc's CleanPath: normalise, and never let a relative path climb out with ".."."""
    if not path:
        return ""
    if path.startswith("/"):
        return posixpath.normpath(path)
    cleaned = posixpath.normpath("/" + path).lstrip("/")
    return cleaned


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"."""
    suffix = ".slice"
    bad = BundleError(f"linux.cgroupsPath: invalid systemd slice name {slice_name!r}")
    if len(slice_name) <= len(suffix) or not slice_name.endswith(suffix) or "/" in slice_name:
        raise bad
    stem = slice_name[:-len(suffix)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:        # "a--b.slice" and "-a.slice" are not slices
            raise bad
        path += f"/{prefix}{part}{suffix}"
        prefix += f"{part}-"
    return path


def cgroup_path(cgroups_path: str, container_id: str, systemd: bool) -> str:
    """The container's cgroup path inside each hierarchy, normalised.

    Absolute ("/machine/abc") unless linux.cgroupsPath is relative or empty:
    then the result is relative ("abc", the container id when empty) and
    Cgroup.create resolves it against the runtime's own cgroup (see the module
    docstring). BundleError for a malformed path.
    """
    if systemd:
        return _systemd_path(cgroups_path, container_id)
    path = clean_path(cgroups_path) if cgroups_path else clean_path(container_id)
    if path in ("", ".", "/"):
        # rmdir-ing the hierarchy's root at delete is not something to attempt.
        raise BundleError(f"linux.cgroupsPath: {cgroups_path!r} names the root cgroup")
    return path


def _systemd_path(cgroups_path: str, container_id: str) -> str:
    if not cgroups_path:
        parent, prefix, name = "system.slice", "runc", container_id  # runc's defaults (root)
    else:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise BundleError(f'linux.cgroupsPath: expected "slice:prefix:name" for systemd '
                              f'cgroups, got {cgroups_path!r}')
        parent, prefix, name = parts
        parent = parent or "system.slice"
    if not name or "/" in name or "/" in prefix:
        raise BundleError(f"linux.cgroupsPath: invalid systemd unit in {cgroups_path!r}")
    # A name that is a slice is the unit itself; otherwise a scope is made for it.
    unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return posixpath.join(expand_slice(parent), unit)


# --------------------------------------------------------------------------
# Host layout
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    """One mounted cgroup hierarchy."""
    mountpoint: str          # where it is mounted, e.g. /sys/fs/cgroup/memory
    root: str                # the cgroup of the hierarchy shown at mountpoint ("/" normally)
    version: int             # 1 or 2
    controllers: frozenset[str] = frozenset()   # v1: "memory", "cpu", "name=systemd", ...


@dataclass
class Layout:
    """The cgroup hierarchies of this host, as seen from this process."""
    mode: str                                    # "v1", "hybrid", "v2" or "none"
    v1: dict[str, Mount] = field(default_factory=dict)   # controller -> hierarchy
    unified: Mount | None = None


_V1_OPTIONS_NOT_CONTROLLERS = frozenset({
    "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children",
    "noprefix", "xattr", "cpuset_v2_mode", "favordynmods", "nsdelegate",
})


def parse_mountinfo(text: str) -> Layout:
    """The cgroup hierarchies in a /proc/<pid>/mountinfo text (first mount of each wins)."""
    v1: dict[str, Mount] = {}
    unified: Mount | None = None
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        head, tail = pre.split(), post.split()
        if len(head) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        root, mountpoint = _unescape(head[3]), _unescape(head[4])
        if tail[0] == "cgroup2":
            unified = unified or Mount(mountpoint, root, 2)
            continue
        names = frozenset(o for o in tail[2].split(",")
                          if o not in _V1_OPTIONS_NOT_CONTROLLERS and "=" not in o
                          or o.startswith("name="))
        mount = Mount(mountpoint, root, 1, names)
        for name in names:
            v1.setdefault(name, mount)
    has_v1 = any(not name.startswith("name=") for name in v1)
    if has_v1:
        mode = "hybrid" if unified is not None else "v1"
    else:
        mode = "v2" if unified is not None else "none"
    return Layout(mode, v1, unified)


def _unescape(field_text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_text)


def detect_layout(mountinfo: str = MOUNTINFO) -> Layout:
    try:
        with open(mountinfo) as f:
            return parse_mountinfo(f.read())
    except OSError as err:
        raise CgroupError(f"cannot read {mountinfo}: {err.strerror}") from None


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controller: path}; the v2 line is under UNIFIED."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            own[UNIFIED] = path
            continue
        for name in names.split(","):
            own[name] = path
    return own


def own_cgroups(proc_cgroup: str = PROC_CGROUP) -> dict[str, str]:
    try:
        with open(proc_cgroup) as f:
            return parse_proc_cgroup(f.read())
    except OSError as err:
        raise CgroupError(f"cannot read {proc_cgroup}: {err.strerror}") from None


def resolve_dirs(path: str, layout: Layout, own: dict[str, str] | None = None) -> dict[str, str]:
    """Directory of cgroup `path` (from cgroup_path) in every hierarchy quark joins."""
    relative = not path.startswith("/")
    if relative and own is None:
        own = own_cgroups()
    dirs: dict[str, str] = {}
    if layout.mode == "v2":
        assert layout.unified is not None
        base = posixpath.dirname((own or {}).get(UNIFIED, "/")) if relative else "/"
        dirs[UNIFIED] = _dir_in(layout.unified, posixpath.join(base, path))
        return dirs
    hierarchies = [(key, layout.v1[key]) for key in V1_JOIN if key in layout.v1]
    if layout.unified is not None:
        hierarchies.append((UNIFIED, layout.unified))
    for key, mount in hierarchies:
        if relative:
            base = (own or {}).get(key)
            if base is None:
                log.warning("cgroup: not in any %s cgroup (per %s); skipping that hierarchy",
                            key, PROC_CGROUP)
                continue
            dirs[key] = _dir_in(mount, posixpath.join(base, path))
        else:
            dirs[key] = _dir_in(mount, path)
    return dirs


def _dir_in(mount: Mount, cg_path: str) -> str:
    """The directory of cgroup cg_path under a mount that may show a sub-tree."""
    cg_path = posixpath.normpath(cg_path)
    root = mount.root.rstrip("/")
    if root and (cg_path == root or cg_path.startswith(root + "/")):
        cg_path = cg_path[len(root):] or "/"
    return posixpath.normpath(posixpath.join(mount.mountpoint, cg_path.lstrip("/")))


# --------------------------------------------------------------------------
# File helpers
# --------------------------------------------------------------------------

def _read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def _read_or(directory: str, name: str, default: str | None = None) -> str | None:
    try:
        return _read(directory, name)
    except OSError:
        return default


def _write_raw(directory: str, name: str, value: str) -> None:
    # One write(2) per value: cgroup files parse each write as a whole.
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _write(directory: str, name: str, value: str) -> None:
    try:
        _write_raw(directory, name, value)
    except OSError as err:
        raise CgroupError(f"cannot write {value!r} to {os.path.join(directory, name)}: "
                          f"{err.strerror}") from None


def _uint(text: str | None) -> int:
    """A counter from a cgroup file; "max" (unlimited) reads as 2**64-1, missing as 0."""
    if text is None or text == "":
        return 0
    if text == "max":
        return UINT64_MAX
    try:
        return int(text)
    except ValueError:
        return 0


def _keyed(text: str | None) -> dict[str, int]:
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


def _ints(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split() if x.isdigit()]


def _cpu_list(text: str | None) -> list[int]:
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


def _v1_limit_str(value: int) -> str:
    return str(value)      # v1 files take -1 for "no limit"


def _v2_limit_str(value: int) -> str:
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


# --------------------------------------------------------------------------
# The cgroup
# --------------------------------------------------------------------------

class Cgroup:
    """A container's cgroup: one directory per hierarchy (v1) or one (v2)."""

    def __init__(self, path: str, mode: str, dirs: dict[str, str]) -> None:
        self.path = path
        self.mode = mode                  # "v1", "hybrid" or "v2"
        self.dirs = dict(dirs)            # hierarchy key -> absolute directory

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, mode={self.mode!r})"

    @property
    def paths(self) -> dict[str, str]:
        """The resolved directories; save them for Cgroup.open(path, paths)."""
        return dict(self.dirs)

    @property
    def v2(self) -> bool:
        return self.mode == "v2"

    # ---- creation ---------------------------------------------------------

    @classmethod
    def create(cls, path: str, layout: Layout | None = None) -> "Cgroup":
        """Make the cgroup in every hierarchy quark uses (existing ones are reused)."""
        layout = layout or detect_layout()
        if layout.mode == "none":
            raise CgroupError("no cgroup file system is mounted (see /proc/self/mountinfo)")
        dirs = resolve_dirs(path, layout)
        made: dict[str, str] = {}
        for key, directory in dirs.items():
            try:
                _make_dir(directory)
            except OSError as err:
                if key in V1_OPTIONAL and layout.mode != "v2":
                    log.warning("cgroup: cannot create %s: %s; not joining %s",
                                directory, err.strerror, key)
                    continue
                raise CgroupError(f"cannot create cgroup {directory}: {err.strerror}") from None
            made[key] = directory
        cg = cls(path, layout.mode, made)
        if cg.v2:
            assert layout.unified is not None
            _enable_v2_controllers(layout.unified.mountpoint, made[UNIFIED])
        elif "cpuset" in made:
            _fill_cpuset(layout.v1["cpuset"].mountpoint, made["cpuset"])
        return cg

    @classmethod
    def open(cls, path: str, paths: dict[str, str] | None = None,
             layout: Layout | None = None) -> "Cgroup":
        """The cgroup of an existing container (for update, pause, delete, ...).

        paths: Cgroup.paths saved at create; without it `path` is resolved
        again (the same result unless it is relative and the caller sits in
        another cgroup). Directories that do not exist are left out.
        """
        layout = layout or detect_layout()
        if paths is not None:
            dirs, mode = dict(paths), layout.mode
        else:
            if layout.mode == "none":
                raise CgroupError("no cgroup file system is mounted (see /proc/self/mountinfo)")
            dirs, mode = resolve_dirs(path, layout), layout.mode
        return cls(path, mode, {k: d for k, d in dirs.items() if os.path.isdir(d)})

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs.values())

    def _unique_dirs(self) -> list[tuple[str, str]]:
        """(key, dir) once per directory (co-mounted controllers share one)."""
        seen: set[str] = set()
        out = []
        for key, directory in self.dirs.items():
            if directory not in seen:
                seen.add(directory)
                out.append((key, directory))
        return out

    # ---- membership -------------------------------------------------------

    def add_pid(self, pid: int) -> None:
        """Move process pid (all its threads) into the cgroup everywhere."""
        for key, directory in self._unique_dirs():
            try:
                _write_procs(directory, pid)
            except OSError as err:
                target = os.path.join(directory, "cgroup.procs")
                if key in V1_OPTIONAL and self.mode != "v2":
                    log.warning("cgroup: cannot add pid %d to %s: %s", pid, target, err.strerror)
                    continue
                raise CgroupError(f"cannot write {pid} to {target}: {err.strerror}") from None

    def pids(self) -> list[int]:
        """The processes in the cgroup and its sub-cgroups, sorted."""
        directory = self._dir_for(("freezer", "pids", "memory", "cpu", "devices", "cpuacct",
                                   "cpuset", UNIFIED, "name=systemd"))
        if directory is None:
            return []
        found: set[int] = set()
        for sub in _walk_dirs(directory):
            found.update(_ints(_read_or(sub, "cgroup.procs")))
        return sorted(found)

    def _dir_for(self, keys: tuple[str, ...]) -> str | None:
        for key in keys:
            directory = self.dirs.get(key)
            if directory and os.path.isdir(directory):
                return directory
        return None

    # ---- limits -----------------------------------------------------------

    def apply(self, res: Resources) -> None:
        """Write every limit res sets. CgroupError if one cannot be applied."""
        if self.v2:
            self._apply_v2(res)
        else:
            self._apply_v1(res)

    def _require(self, key: str, what: str) -> str:
        directory = self.dirs.get(key)
        if directory is None:
            raise CgroupError(f"cannot apply {what}: no {key} cgroup for this container "
                              f"(is the {key} controller mounted?)")
        return directory

    def _apply_v1(self, res: Resources) -> None:
        if res.wants_memory():
            _v1_memory(self._require("memory", "linux.resources.memory"), res)
        if res.pids_limit is not None:
            _write(self._require("pids", "linux.resources.pids"), "pids.max",
                   _v2_limit_str(res.pids_limit))
        if res.wants_cpu():
            _v1_cpu(self._require("cpu", "linux.resources.cpu"), res)
        if res.wants_cpuset():
            directory = self._require("cpuset", "linux.resources.cpu.cpus/mems")
            if res.cpuset_cpus is not None:
                _write(directory, "cpuset.cpus", res.cpuset_cpus)
            if res.cpuset_mems is not None:
                _write(directory, "cpuset.mems", res.cpuset_mems)

    def _apply_v2(self, res: Resources) -> None:
        directory = self._require(UNIFIED, "linux.resources")
        if res.wants_memory():
            _v2_memory(directory, res)
        if res.pids_limit is not None:
            _v2_write(directory, "pids.max", _v2_limit_str(res.pids_limit), "pids")
        if res.cpu_shares is not None:
            _v2_write(directory, "cpu.weight", str(shares_to_weight(res.cpu_shares)), "cpu")
        if res.cpu_quota is not None or res.cpu_period is not None:
            _v2_cpu_max(directory, res)
        if res.cpuset_cpus is not None:
            _v2_write(directory, "cpuset.cpus", res.cpuset_cpus, "cpuset")
        if res.cpuset_mems is not None:
            _v2_write(directory, "cpuset.mems", res.cpuset_mems, "cpuset")

    # ---- freezer ----------------------------------------------------------

    def _freezer_dir(self) -> str:
        key = UNIFIED if self.v2 else "freezer"
        directory = self.dirs.get(key)
        if directory is None:
            raise CgroupError(f"cannot pause or resume: no {key} cgroup for this container")
        return directory

    def freeze(self, timeout: float = FREEZE_TIMEOUT) -> None:
        """Stop every process in the cgroup; returns once the kernel says frozen."""
        directory = self._freezer_dir()
        if self.v2:
            _write(directory, "cgroup.freeze", "1")
            if not _wait_for(lambda: self.frozen(), timeout):
                raise CgroupError(f"{directory}: still not frozen after {timeout:g}s "
                                  f"(cgroup.events)")
            return
        _v1_freeze(directory, timeout)

    def thaw(self, timeout: float = FREEZE_TIMEOUT) -> None:
        directory = self._freezer_dir()
        if self.v2:
            _write(directory, "cgroup.freeze", "0")
            ok = _wait_for(lambda: not self.frozen(), timeout)
        else:
            _write(directory, "freezer.state", "THAWED")
            ok = _wait_for(lambda: _read_or(directory, "freezer.state") == "THAWED", timeout)
        if not ok:
            raise CgroupError(f"{directory}: still frozen after {timeout:g}s")

    def frozen(self) -> bool:
        """True once frozen (v1 FREEZING, still on its way, is False)."""
        key = UNIFIED if self.v2 else "freezer"
        directory = self.dirs.get(key)
        if directory is None:
            return False
        if self.v2:
            return _keyed(_read_or(directory, "cgroup.events")).get("frozen") == 1
        return _read_or(directory, "freezer.state") == "FROZEN"

    # ---- signals and removal ----------------------------------------------

    def kill_all(self, signo: int) -> None:
        """Send signo to every process in the cgroup.

        The cgroup is frozen meanwhile (as runc does) so nothing forks a
        process we would miss; SIGKILL then thaws it, since v1-frozen tasks
        only die once thawed. Other signals restore the previous state.
        """
        if self.v2 and signo == signal.SIGKILL and self._v2_kill():
            return
        me = os.getpid()
        can_freeze = ((UNIFIED if self.v2 else "freezer") in self.dirs
                      and me not in self.pids())     # never freeze ourselves
        was_frozen = self.frozen() if can_freeze else False
        if can_freeze and not was_frozen:
            try:
                self.freeze()
            except CgroupError as err:
                log.warning("cgroup: %s; signalling without freezing", err)
                can_freeze = False
        try:
            for pid in self.pids():
                if pid == me:
                    continue
                try:
                    os.kill(pid, signo)
                except ProcessLookupError:
                    pass
        finally:
            if can_freeze and (signo == signal.SIGKILL or not was_frozen):
                self.thaw()

    def _v2_kill(self) -> bool:
        """cgroup.kill (Linux 5.14+) SIGKILLs the whole subtree at once."""
        directory = self.dirs.get(UNIFIED)
        if directory is None or not os.path.exists(os.path.join(directory, "cgroup.kill")):
            return False
        _write(directory, "cgroup.kill", "1")
        return True

    def destroy(self, timeout: float = 2.0) -> None:
        """rmdir the cgroup (and sub-cgroups) everywhere; missing ones are fine.

        The processes must be gone: EBUSY is retried until timeout (the
        kernel lets go of exiting tasks asynchronously), then CgroupError.
        """
        deadline = time.monotonic() + timeout
        failures = []
        for _, directory in self._unique_dirs():
            err = _remove_tree(directory, deadline)
            if err:
                failures.append(err)
        if failures:
            raise CgroupError("; ".join(failures))

    # ---- statistics ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The "data" object of runc's `events --stats` (runc's types.Stats names)."""
        if self.v2:
            return _stats_v2(self.dirs.get(UNIFIED))
        return _stats_v1(self.dirs)


# --------------------------------------------------------------------------
# Creation helpers
# --------------------------------------------------------------------------

def _make_dir(directory: str) -> None:
    os.makedirs(directory, mode=0o755, exist_ok=True)


def _levels(mountpoint: str, directory: str) -> list[str]:
    """The directories from just below mountpoint down to directory."""
    rel = posixpath.relpath(directory, mountpoint)
    if rel == "." or rel.startswith(".."):
        return []
    out, current = [], mountpoint
    for part in rel.split("/"):
        current = posixpath.join(current, part)
        out.append(current)
    return out


def _fill_cpuset(mountpoint: str, directory: str) -> None:
    """A new v1 cpuset has empty cpus and mems, and a task cannot join it until
    they are set: copy them down from the parent at every level that lacks them."""
    for level in _levels(mountpoint, directory):
        parent = posixpath.dirname(level)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if _read_or(level, name, "") == "":
                value = _read_or(parent, name, "")
                if value:
                    _write(level, name, value)


def _enable_v2_controllers(mountpoint: str, directory: str) -> None:
    """Turn on quark's controllers in the subtree_control of every ancestor.

    A non-root cgroup with processes in it cannot delegate (EBUSY, the "no
    internal processes" rule): warn and go on; apply() fails later only if a
    limit actually needs the missing controller.
    """
    for level in [mountpoint] + _levels(mountpoint, directory)[:-1]:
        available = set((_read_or(level, "cgroup.controllers") or "").split())
        enabled = set((_read_or(level, "cgroup.subtree_control") or "").split())
        for name in V2_CONTROLLERS:
            if name not in available:
                log.debug("cgroup: controller %s not available in %s", name, level)
                continue
            if name in enabled:
                continue
            try:
                _write_raw(level, "cgroup.subtree_control", f"+{name}")
            except OSError as err:
                log.warning("cgroup: cannot enable %s in %s/cgroup.subtree_control: %s",
                            name, level, err.strerror)


def _write_procs(directory: str, pid: int) -> None:
    # EINVAL can mean the task is still being created (TASK_NEW): retry a bit.
    for attempt in range(5):
        try:
            _write_raw(directory, "cgroup.procs", str(pid))
            return
        except OSError as err:
            if err.errno != errno.EINVAL or attempt == 4:
                raise
            time.sleep(0.03)


def _walk_dirs(directory: str) -> Iterator[str]:
    yield directory
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_dirs(entry.path)


def _remove_tree(directory: str, deadline: float) -> str | None:
    """rmdir directory after its sub-cgroups; an error text, or None when gone."""
    for sub in sorted(_walk_dirs(directory), key=lambda d: d.count("/"), reverse=True):
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
                left = _ints(_read_or(sub, "cgroup.procs"))
                detail = f" (processes still in it: {left})" if left else ""
                return f"cannot remove cgroup {sub}: {err.strerror}{detail}"
    return None


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


# --------------------------------------------------------------------------
# v1 writers
# --------------------------------------------------------------------------

def _v1_memory(directory: str, res: Resources) -> None:
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
        current = _uint(_read_or(directory, "memory.limit_in_bytes"))
        if swap == -1 or current < swap:
            _write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
            _v1_memory_limit(directory, limit)
        else:
            _v1_memory_limit(directory, limit)
            _write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
    elif limit is not None:
        _v1_memory_limit(directory, limit)
    elif swap is not None:
        _write(directory, "memory.memsw.limit_in_bytes", _v1_limit_str(swap))
    if res.memory_reservation is not None:
        _write(directory, "memory.soft_limit_in_bytes", _v1_limit_str(res.memory_reservation))


def _v1_memory_limit(directory: str, limit: int) -> None:
    try:
        _write_raw(directory, "memory.limit_in_bytes", _v1_limit_str(limit))
    except OSError as err:
        target = os.path.join(directory, "memory.limit_in_bytes")
        if err.errno == errno.EBUSY:
            # The kernel could not reclaim down to the new limit.
            usage = _read_or(directory, "memory.usage_in_bytes")
            peak = _read_or(directory, "memory.max_usage_in_bytes")
            raise CgroupError(f"cannot set {target} to {limit}: current usage {usage}, "
                              f"peak usage {peak}") from None
        if err.errno == errno.EINVAL and limit > 0:
            memsw = _read_or(directory, "memory.memsw.limit_in_bytes")
            if memsw is not None and _uint(memsw) < limit:
                raise CgroupError(f"cannot set {target} to {limit}: above the memory+swap "
                                  f"limit {memsw} (raise memory.swap too)") from None
        raise CgroupError(f"cannot write {str(limit)!r} to {target}: {err.strerror}") from None


def _v1_cpu(directory: str, res: Resources) -> None:
    if res.cpu_shares is not None:
        _write(directory, "cpu.shares", str(res.cpu_shares))
        got = _uint(_read_or(directory, "cpu.shares"))
        if got != res.cpu_shares:
            # The kernel clamps silently; runc reports it, so do we.
            raise CgroupError(f"cpu.shares: asked for {res.cpu_shares}, the kernel set {got} "
                              f"(allowed {CPU_SHARES_MIN}..{CPU_SHARES_MAX})")
    quota_done = False
    if res.cpu_period is not None:
        try:
            _write_raw(directory, "cpu.cfs_period_us", str(res.cpu_period))
        except OSError as err:
            # A shorter period can break the quota/period ratio the old quota
            # allowed; runc retries with the quota first in that case.
            if err.errno != errno.EINVAL or res.cpu_quota is None:
                raise CgroupError(f"cannot write {str(res.cpu_period)!r} to "
                                  f"{directory}/cpu.cfs_period_us: {err.strerror}") from None
            _write(directory, "cpu.cfs_quota_us", str(res.cpu_quota))
            _write(directory, "cpu.cfs_period_us", str(res.cpu_period))
            quota_done = True
    if res.cpu_quota is not None and not quota_done:
        _write(directory, "cpu.cfs_quota_us", str(res.cpu_quota))


def _v1_freeze(directory: str, timeout: float) -> None:
    """FROZEN, then wait while the kernel reports FREEZING.

    A freeze can stall on a task stuck in the kernel; as runc does, thaw and
    try again rather than wait forever, then give up thawed.
    """
    deadline = time.monotonic() + timeout
    while True:
        _write(directory, "freezer.state", "FROZEN")
        if _wait_for(lambda: _read_or(directory, "freezer.state") == "FROZEN", 0.1):
            return
        if time.monotonic() >= deadline:
            _write_raw_quiet(directory, "freezer.state", "THAWED")
            raise CgroupError(f"{directory}/freezer.state: still FREEZING after "
                              f"{timeout:g}s; thawed again")
        _write_raw_quiet(directory, "freezer.state", "THAWED")


def _write_raw_quiet(directory: str, name: str, value: str) -> None:
    try:
        _write_raw(directory, name, value)
    except OSError as err:
        log.warning("cgroup: cannot write %r to %s/%s: %s", value, directory, name, err.strerror)


# --------------------------------------------------------------------------
# v2 writers
# --------------------------------------------------------------------------

def _v2_write(directory: str, name: str, value: str, controller: str) -> None:
    if not os.path.exists(os.path.join(directory, name)):
        raise CgroupError(f"cannot write {value!r} to {directory}/{name}: no such file (is the "
                          f"{controller} controller enabled in the parent's "
                          f"cgroup.subtree_control?)")
    _write(directory, name, value)


def _v2_memory(directory: str, res: Resources) -> None:
    memory = res.memory_limit
    if memory is None and res.memory_swap is not None:
        # An update of swap alone: relative to the limit already in force.
        current = _read_or(directory, "memory.max")
        memory = -1 if current in (None, "max") else int(current)
    swap = memory_swap_v2(res.memory_swap, memory)
    if swap is not None:
        if os.path.exists(os.path.join(directory, "memory.swap.max")):
            _write(directory, "memory.swap.max", _v2_limit_str(swap))
        elif res.memory_swap is not None:
            log.warning("cgroup: %s/memory.swap.max does not exist (no swap accounting); "
                        "memory.swap=%d not applied", directory, res.memory_swap)
    if res.memory_limit is not None:
        _v2_write(directory, "memory.max", _v2_limit_str(res.memory_limit), "memory")
    if res.memory_reservation is not None:
        _v2_write(directory, "memory.low", _v2_limit_str(res.memory_reservation), "memory")


def _v2_cpu_max(directory: str, res: Resources) -> None:
    """cpu.max is "QUOTA PERIOD"; keep the half the caller did not give."""
    quota = res.cpu_quota
    if quota is None:
        current = (_read_or(directory, "cpu.max") or "max").split()
        text = current[0] if current else "max"
    else:
        text = _v2_limit_str(quota)
    if res.cpu_period is not None:
        text += f" {res.cpu_period}"
    _v2_write(directory, "cpu.max", text, "cpu")


# --------------------------------------------------------------------------
# Statistics (runc types.Stats; Go's omitempty fields are left out when zero)
# --------------------------------------------------------------------------

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
    _put(out, "current", _uint(_read_or(directory, "pids.current")))
    limit = _read_or(directory, "pids.max")
    _put(out, "limit", 0 if limit == "max" else _uint(limit))    # runc: unlimited is 0
    return out


def _stats_v1(dirs: dict[str, str]) -> dict[str, Any]:
    stats = _empty_stats()
    cpuacct, cpu = dirs.get("cpuacct"), dirs.get("cpu")
    if cpuacct or cpu:
        ticks = os.sysconf("SC_CLK_TCK")
        acct = _keyed(_read_or(cpuacct, "cpuacct.stat")) if cpuacct else {}
        raw = _keyed(_read_or(cpu, "cpu.stat")) if cpu else {}
        stats["cpu"] = _cpu_stats(
            total=_uint(_read_or(cpuacct, "cpuacct.usage")) if cpuacct else 0,
            percpu=_ints(_read_or(cpuacct, "cpuacct.usage_percpu")) if cpuacct else [],
            percpu_kernel=_ints(_read_or(cpuacct, "cpuacct.usage_percpu_sys")) if cpuacct else [],
            percpu_user=_ints(_read_or(cpuacct, "cpuacct.usage_percpu_user")) if cpuacct else [],
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
        raw = _keyed(_read_or(memory, "memory.stat"))
        entries = {}
        for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"),
                            ("kernel", "memory.kmem"), ("kernelTCP", "memory.kmem.tcp")):
            entries[key] = _memory_entry(
                _uint(_read_or(memory, f"{prefix}.limit_in_bytes")),
                _uint(_read_or(memory, f"{prefix}.usage_in_bytes")),
                _uint(_read_or(memory, f"{prefix}.max_usage_in_bytes")),
                _uint(_read_or(memory, f"{prefix}.failcnt")))
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
    _put(out, "cpus", _cpu_list(_read_or(directory, "cpuset.cpus")))
    for flag in _CPUSET_V1_FLAGS[:3]:
        out[flag] = _uint(_read_or(directory, f"cpuset.{flag}"))
    _put(out, "mems", _cpu_list(_read_or(directory, "cpuset.mems")))
    for flag in _CPUSET_V1_FLAGS[3:]:
        text = _read_or(directory, f"cpuset.{flag}")
        out[flag] = int(text) if text and text.lstrip("-").isdigit() else 0
    return out


def _stats_v2(directory: str | None) -> dict[str, Any]:
    stats = _empty_stats()
    if directory is None:
        return stats
    raw = _keyed(_read_or(directory, "cpu.stat"))
    stats["cpu"] = _cpu_stats(
        total=raw.get("usage_usec", 0) * 1000, percpu=[], percpu_kernel=[], percpu_user=[],
        kernel=raw.get("system_usec", 0) * 1000, user=raw.get("user_usec", 0) * 1000,
        throttle={"periods": raw.get("nr_periods", 0),
                  "throttled_periods": raw.get("nr_throttled", 0),
                  "throttled_time": raw.get("throttled_usec", 0) * 1000})
    cpus = _read_or(directory, "cpuset.cpus") or _read_or(directory, "cpuset.cpus.effective")
    mems = _read_or(directory, "cpuset.mems") or _read_or(directory, "cpuset.mems.effective")
    cpuset: dict[str, Any] = {}
    _put(cpuset, "cpus", _cpu_list(cpus))
    _put(cpuset, "mems", _cpu_list(mems))
    stats["cpuset"] = cpuset
    if os.path.exists(os.path.join(directory, "memory.current")):
        stats["memory"] = _memory_stats_v2(directory)
    stats["pids"] = _pids_stats(directory)
    return stats


def _memory_stats_v2(directory: str) -> dict[str, Any]:
    raw = _keyed(_read_or(directory, "memory.stat"))
    events = _keyed(_read_or(directory, "memory.events"))
    usage = _memory_entry(_uint(_read_or(directory, "memory.max")),
                          _uint(_read_or(directory, "memory.current")),
                          _uint(_read_or(directory, "memory.peak")),
                          events.get("max", 0))
    # v1 reports swap as memory+swap; runc keeps that meaning on v2.
    swap_limit = _uint(_read_or(directory, "memory.swap.max"))
    if swap_limit != UINT64_MAX and usage["limit"] != UINT64_MAX:
        swap_limit += usage["limit"]
    swap = _memory_entry(swap_limit if os.path.exists(os.path.join(directory, "memory.swap.max"))
                         else 0,
                         _uint(_read_or(directory, "memory.swap.current")) + usage.get("usage", 0),
                         _uint(_read_or(directory, "memory.swap.peak")), 0)
    mem: dict[str, Any] = {}
    _put(mem, "cache", raw.get("file", 0))
    mem["usage"] = usage
    mem["swap"] = swap
    mem["kernel"] = _memory_entry(0, 0, 0, 0)
    mem["kernelTCP"] = _memory_entry(0, 0, 0, 0)
    _put(mem, "raw", raw)
    return mem
