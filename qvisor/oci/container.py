"""The whole of a bundle's config.json, for the lifecycle commands: ContainerSpec.

config.py reads what QKernel needs (a KernelConfig); this module reads the
rest: ociVersion, the terminal, hooks, namespaces, cgroup settings,
annotations and the process's security settings. Everything is type-checked
once, at load, so a bad field fails `create` with one line that names it.
Fields the runtime-spec does not define are ignored (it says so); a field
it does define with the wrong type is an error, as it is for runc (whose
JSON decoder refuses it).
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from qkernel.config import KernelConfig
from qvisor.oci.config import kernel_config_from_spec, load_bundle_as
from qvisor.oci.errors import BundleError
from qvisor.oci.fields import (
    get_bool, get_list, get_object, get_string, get_string_list, json_type,
)

# config.json's hook names -> Hooks attributes, in lifecycle order.
HOOK_PHASES: dict[str, str] = {
    "prestart": "prestart",
    "createRuntime": "create_runtime",
    "createContainer": "create_container",
    "startContainer": "start_container",
    "poststart": "poststart",
    "poststop": "poststop",
}

# linux.namespaces[].type values (runtime-spec 1.1 added "time"; runc 1.1
# does not know it yet, but a VM can honour it as well as any other).
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")

# Linux capability names, index = capability number (CAP_LAST_CAP is 40,
# what QKernel's /proc/sys/kernel/cap_last_cap says).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX = -1000, 1000   # what /proc/<pid>/oom_score_adj takes
WINSIZE_MAX = 0xFFFF                                 # struct winsize holds unsigned shorts

# Known linux.* fields quark does not act on: checked for their JSON type only.
_LINUX_SHAPES: dict[str, type] = {
    "uidMappings": list, "gidMappings": list, "devices": list, "seccomp": dict,
    "rootfsPropagation": str, "mountLabel": str, "intelRdt": dict, "personality": dict,
    "timeOffsets": dict,
}
_SHAPE_NAMES: dict[type, str] = {list: "an array", dict: "an object", str: "a string"}


@dataclass
class Hook:
    path: str                                         # absolute host path of the program
    args: list[str] = field(default_factory=list)     # argv, args[0] included; [] = [path]
    env: list[str] = field(default_factory=list)      # the hook's whole environment
    timeout: int | None = None                        # seconds; None = wait for it


@dataclass
class Hooks:
    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)

    def phase(self, name: str) -> list[Hook]:
        """The hooks of a phase named as config.json names it ("createRuntime")."""
        return getattr(self, HOOK_PHASES[name])


@dataclass(frozen=True)
class Namespace:
    type: str                        # one of NAMESPACE_TYPES
    path: str = ""                   # a namespace file to join; "" = a new one


@dataclass
class ContainerSpec:
    kernel: KernelConfig
    bundle: str                      # absolute path of the bundle directory
    oci_version: str
    terminal: bool = False
    console_size: tuple[int, int] | None = None      # (height, width)
    hooks: Hooks = field(default_factory=Hooks)
    namespaces: list[Namespace] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)   # raw linux.resources
    cgroups_path: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    capabilities: dict[str, list[str]] = field(default_factory=dict)  # every CAPABILITY_SETS key
    no_new_privileges: bool = False
    sysctl: dict[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    apparmor_profile: str = ""       # accepted and ignored: no LSM inside QKernel
    selinux_label: str = ""
    # What runc accepts with a warning (unknown capability names): the
    # caller logs these.
    warnings: list[str] = field(default_factory=list)

    def namespace(self, type_: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == type_), None)


def load_container_spec(bundle: str | os.PathLike[str]) -> ContainerSpec:
    """Read and check all of <bundle>/config.json; BundleError names the bad field."""
    return load_bundle_as(bundle, container_spec_from_doc)


def container_spec_from_doc(doc: dict[str, Any], bundle_dir: str) -> ContainerSpec:
    """A ContainerSpec from a decoded config.json (errors name the field only)."""
    oci_version = _oci_version(doc)
    kernel = kernel_config_from_spec(doc, bundle_dir)
    process = get_object(doc, "process", "process", default={})
    linux = get_object(doc, "linux", "linux", default={})
    _check_shapes(linux, _LINUX_SHAPES, "linux")
    spec = ContainerSpec(
        kernel=kernel,
        bundle=bundle_dir,
        oci_version=oci_version,
        terminal=_bool(process, "terminal", "process.terminal"),
        console_size=_console_size(process),
        hooks=_hooks(doc),
        namespaces=_namespaces(linux),
        resources=get_object(linux, "resources", "linux.resources", default={}),
        cgroups_path=_string(linux, "cgroupsPath", "linux.cgroupsPath"),
        annotations=_string_map(doc, "annotations", "annotations"),
        no_new_privileges=_bool(process, "noNewPrivileges", "process.noNewPrivileges"),
        sysctl=_string_map(linux, "sysctl", "linux.sysctl"),
        oom_score_adj=_oom_score_adj(process),
        apparmor_profile=_string(process, "apparmorProfile", "process.apparmorProfile"),
        selinux_label=_string(process, "selinuxLabel", "process.selinuxLabel"),
    )
    kernel.no_new_privileges = spec.no_new_privileges
    spec.capabilities, unknown = _capabilities(process)
    if unknown:
        # runc 1.1 starts the container anyway and says this (same words).
        spec.warnings.append(
            f"ignoring unknown or unavailable capabilities: [{' '.join(unknown)}]")
    return spec


# -- small accessors: JSON null counts as absent (Go's decoder, hence runc, agrees) --

def _string(obj: dict[str, Any], key: str, where: str) -> str:
    return "" if obj.get(key) is None else get_string(obj, key, where)


def _bool(obj: dict[str, Any], key: str, where: str) -> bool:
    return False if obj.get(key) is None else get_bool(obj, key, where, default=False)


def _int(value: Any, where: str) -> int:
    # bool is an int subclass in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BundleError(f"{where}: expected an integer, got {json_type(value)}")
    return value


def _check_shapes(obj: dict[str, Any], shapes: dict[str, type], prefix: str) -> None:
    for key, kind in shapes.items():
        value = obj.get(key)
        if value is not None and not isinstance(value, kind):
            raise BundleError(
                f"{prefix}.{key}: expected {_SHAPE_NAMES[kind]}, got {json_type(value)}")


# -- fields ----------------------------------------------------------------------

def _oci_version(doc: dict[str, Any]) -> str:
    # REQUIRED by the runtime-spec (runc 1.1 does not check it).
    version = get_string(doc, "ociVersion", "ociVersion")
    if not version:
        raise BundleError("ociVersion is empty")
    return version


def _console_size(process: dict[str, Any]) -> tuple[int, int] | None:
    size = get_object(process, "consoleSize", "process.consoleSize", default=None)
    if size is None:
        return None
    dims = []
    for key in ("height", "width"):
        where = f"process.consoleSize.{key}"
        if key not in size:
            raise BundleError(f"{where} is missing")
        value = _int(size[key], where)
        if not 0 <= value <= WINSIZE_MAX:
            raise BundleError(f"{where}: {value} is out of range 0..{WINSIZE_MAX}")
        dims.append(value)
    return dims[0], dims[1]


def _hooks(doc: dict[str, Any]) -> Hooks:
    table = get_object(doc, "hooks", "hooks", default={})
    hooks = Hooks()
    for name, attr in HOOK_PHASES.items():
        entries = get_list(table, name, f"hooks.{name}", default=[])
        setattr(hooks, attr, [_hook(entry, f"hooks.{name}[{i}]") for i, entry in enumerate(entries)])
    return hooks


def _hook(entry: Any, where: str) -> Hook:
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: expected an object, got {json_type(entry)}")
    path = get_string(entry, "path", f"{where}.path")
    if not posixpath.isabs(path):
        # runtime-spec: "path MUST be absolute" (it names a host program).
        raise BundleError(f"{where}.path must be an absolute path, got {path!r}")
    timeout = entry.get("timeout")
    if timeout is not None:
        timeout = _int(timeout, f"{where}.timeout")
        if timeout <= 0:
            raise BundleError(f"{where}.timeout must be greater than zero, got {timeout}")
    return Hook(
        path=path,
        args=get_string_list(entry, "args", f"{where}.args", default=[]),
        env=get_string_list(entry, "env", f"{where}.env", default=[]),
        timeout=timeout,
    )


def _namespaces(linux: dict[str, Any]) -> list[Namespace]:
    out: list[Namespace] = []
    seen: set[str] = set()
    for i, entry in enumerate(get_list(linux, "namespaces", "linux.namespaces", default=[])):
        where = f"linux.namespaces[{i}]"
        if not isinstance(entry, dict):
            raise BundleError(f"{where}: expected an object, got {json_type(entry)}")
        ns_type = get_string(entry, "type", f"{where}.type")
        if ns_type not in NAMESPACE_TYPES:
            raise BundleError(f"{where}.type: unknown namespace type {ns_type!r}")
        if ns_type in seen:
            # runtime-spec: duplicated types MUST be an error (runc: "duplicated ns").
            raise BundleError(f"{where}.type: namespace {ns_type} is given twice")
        seen.add(ns_type)
        path = _string(entry, "path", f"{where}.path")
        if path and not posixpath.isabs(path):
            raise BundleError(f"{where}.path must be an absolute path, got {path!r}")
        out.append(Namespace(ns_type, path))
    return out


def _string_map(obj: dict[str, Any], key: str, where: str) -> dict[str, str]:
    table = get_object(obj, key, where, default={})
    for name, value in table.items():
        if not name:
            raise BundleError(f"{where}: a key is an empty string")
        if not isinstance(value, str):
            raise BundleError(f"{where}.{name}: expected a string, got {json_type(value)}")
    return dict(table)


def _capabilities(process: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """Every capability set (absent = empty) and the names nobody knows."""
    caps = get_object(process, "capabilities", "process.capabilities", default={})
    sets = {kind: get_string_list(caps, kind, f"process.capabilities.{kind}", default=[])
            for kind in CAPABILITY_SETS}
    known = set(CAPABILITIES)
    unknown = sorted({name for names in sets.values() for name in names if name not in known})
    return sets, unknown


def _oom_score_adj(process: dict[str, Any]) -> int | None:
    value = process.get("oomScoreAdj")
    if value is None:
        return None
    value = _int(value, "process.oomScoreAdj")
    if not OOM_SCORE_ADJ_MIN <= value <= OOM_SCORE_ADJ_MAX:
        # Linux refuses it with EINVAL (runc fails at start); say so now.
        raise BundleError(f"process.oomScoreAdj: {value} is out of range "
                          f"{OOM_SCORE_ADJ_MIN}..{OOM_SCORE_ADJ_MAX}")
    return value


__all__ = ["CAPABILITIES", "CAPABILITY_SETS", "ContainerSpec", "HOOK_PHASES", "Hook", "Hooks",
           "NAMESPACE_TYPES", "Namespace", "container_spec_from_doc", "load_container_spec"]
