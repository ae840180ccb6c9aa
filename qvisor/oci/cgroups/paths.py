"""The container's cgroup path, from linux.cgroupsPath.

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

The relative ones are resolved to directories by qvisor.oci.cgroups.layout.
"""
from __future__ import annotations

import posixpath

from qvisor.oci.errors import BundleError


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
