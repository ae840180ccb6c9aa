"""The host's cgroup hierarchies, and the directories of a cgroup path in them.

Two host layouts are supported, detected from /proc/self/mountinfo:
- cgroup v1, possibly "hybrid": one hierarchy per controller
  (/sys/fs/cgroup/memory, .../pids, ...), maybe a controller-less cgroup2 at
  /sys/fs/cgroup/unified. The v1 files are used; the unified hierarchy and
  name=systemd are joined only so the process is tracked there too.
- cgroup v2 ("unified"): one hierarchy; controllers are enabled in each
  parent's cgroup.subtree_control and the v2 files are used.

A relative path (see qvisor.oci.cgroups.paths) resolves against the cgroup
of the process that resolves it (/proc/self/cgroup).
"""
from __future__ import annotations

import logging
import posixpath
import re
from dataclasses import dataclass, field

from qvisor.oci.cgroups.errors import CgroupError

log = logging.getLogger("quark")

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"
UNIFIED = "unified"             # key of the cgroup2 directory in Cgroup.paths

# The v1 hierarchies a container joins, as runc's fs manager does. Only
# memory, pids, cpu, cpuset and freezer carry settings quark writes; joining
# the others keeps accounting and tools (systemd-cgls, ps -o cgroup) right.
V1_JOIN = ("cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
           "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc", "name=systemd")
# Hierarchies whose failure to join is only worth a warning: they hold no limit.
V1_OPTIONAL = frozenset({"name=systemd", "misc", "rdma", "perf_event", "net_cls", "net_prio",
                         "hugetlb", "blkio", "devices", UNIFIED})


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
            own_path = (own or {}).get(key)
            if own_path is None:
                log.warning("cgroup: not in any %s cgroup (per %s); skipping that hierarchy",
                            key, PROC_CGROUP)
                continue
            dirs[key] = _dir_in(mount, posixpath.join(own_path, path))
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


def levels(mountpoint: str, directory: str) -> list[str]:
    """The directories from just below mountpoint down to directory."""
    rel = posixpath.relpath(directory, mountpoint)
    if rel == "." or rel.startswith(".."):
        return []
    out, current = [], mountpoint
    for part in rel.split("/"):
        current = posixpath.join(current, part)
        out.append(current)
    return out
