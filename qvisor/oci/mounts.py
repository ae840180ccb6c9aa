"""config.json "mounts" -> MountSpec list.

Only the shape is checked here; which mount types QKernel can provide is the
VFS's business (it knows proc, tmpfs, devpts, sysfs, bind, ...), so an
unknown type is passed through rather than refused at parse time.
"""
from __future__ import annotations

import os
import posixpath
from typing import Any

from qkernel.config import MountSpec
from qvisor.oci.errors import BundleError
from qvisor.oci.fields import get_list, get_string, get_string_list, json_type

_BIND_OPTIONS = frozenset({"bind", "rbind"})


def parse_mounts(doc: dict[str, Any], bundle_dir: str) -> list[MountSpec]:
    entries = get_list(doc, "mounts", "mounts", default=[])
    return [_parse_mount(entry, f"mounts[{i}]", bundle_dir) for i, entry in enumerate(entries)]


def _parse_mount(entry: Any, where: str, bundle_dir: str) -> MountSpec:
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: expected an object, got {json_type(entry)}")
    destination = get_string(entry, "destination", f"{where}.destination")
    if not destination:
        raise BundleError(f"{where}.destination is empty")
    # runc still accepts a relative destination (taken from the container's
    # root), so do the same rather than break bundles that work with runc.
    destination = posixpath.normpath(posixpath.join("/", destination))
    mtype = get_string(entry, "type", f"{where}.type", default="")
    source = get_string(entry, "source", f"{where}.source", default="")
    options = get_string_list(entry, "options", f"{where}.options", default=[])

    # A bind mount is named by its options; its type is often "none" or absent.
    if _BIND_OPTIONS & set(options) and mtype in ("", "none", "bind"):
        mtype = "bind"
    if not mtype:
        raise BundleError(f"{where}.type is missing (mount on {destination})")
    if mtype == "bind":
        source = _bind_source(source, where, bundle_dir, destination)
    return MountSpec(destination=destination, type=mtype, source=source, options=options)


def _bind_source(source: str, where: str, bundle_dir: str, destination: str) -> str:
    if not source:
        raise BundleError(f"{where}.source is missing for the bind mount on {destination}")
    # Relative sources are relative to the bundle, as for root.path.
    path = os.path.abspath(os.path.join(bundle_dir, source))
    if not os.path.exists(path):
        raise BundleError(f"{where}.source: {path} does not exist (bind mount on {destination})")
    return path
