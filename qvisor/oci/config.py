"""Turn an OCI bundle (a directory with config.json and a rootfs) into a KernelConfig.

Everything QKernel needs is read and type-checked here, once, so that a bad
bundle fails before a VM is built, with one line that names the field.
The rest of config.json (hooks, namespaces, capabilities, annotations, ...)
is read by qvisor/oci/container.py; fields nobody uses (seccomp, ...) are
ignored: the VM boundary replaces them, and a config.json written for runc
must still run.
"""
from __future__ import annotations

import json
import os
import posixpath
from typing import Any, Callable, TypeVar

from qkernel.config import KernelConfig
from qvisor.oci.errors import BundleError
from qvisor.oci.fields import (
    UINT32_MAX, UINT64_MAX, get_bool, get_list, get_object, get_string,
    get_string_list, get_uint, get_uint_list, json_type,
)
from qvisor.oci.mounts import parse_mounts

CONFIG_NAME = "config.json"

# The resources setrlimit(2) knows on x86-64 Linux; OCI names them like this.
RLIMIT_NAMES = frozenset({
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
    "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
    "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
})

HOST_NAME_MAX = 64   # Linux refuses longer host and domain names with EINVAL


T = TypeVar("T")


def load_bundle(bundle: str | os.PathLike[str]) -> KernelConfig:
    """Read and check <bundle>/config.json; raise BundleError on any problem."""
    return load_bundle_as(bundle, kernel_config_from_spec)


def load_bundle_as(bundle: str | os.PathLike[str], build: Callable[[dict[str, Any], str], T]) -> T:
    """`build(document, bundle dir)` of <bundle>/config.json; a BundleError
    it raises is given the file's path."""
    bundle_dir = bundle_directory(bundle)
    config_path = os.path.join(bundle_dir, CONFIG_NAME)
    doc = read_config(config_path)
    try:
        return build(doc, bundle_dir)
    except BundleError as err:
        raise BundleError(f"{config_path}: {err}") from None


def bundle_directory(bundle: str | os.PathLike[str]) -> str:
    """The absolute path of an existing bundle directory."""
    bundle_dir = os.path.abspath(os.fspath(bundle))
    if not os.path.exists(bundle_dir):
        raise BundleError(f"bundle {os.fspath(bundle)}: no such directory")
    if not os.path.isdir(bundle_dir):
        raise BundleError(f"bundle {os.fspath(bundle)}: not a directory")
    return bundle_dir


def read_config(config_path: str) -> dict[str, Any]:
    """The decoded JSON object of a config.json."""
    if not os.path.exists(config_path):
        raise BundleError(f"{config_path} does not exist (write one with 'quark spec')")
    try:
        with open(config_path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise BundleError(f"{config_path}: cannot read: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BundleError(f"{config_path}: not UTF-8 text (byte {err.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise BundleError(
            f"{config_path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise BundleError(f"{config_path}: invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{config_path}: expected a JSON object, got {json_type(doc)}")
    return doc


def kernel_config_from_spec(doc: dict[str, Any], bundle_dir: str) -> KernelConfig:
    """Build a KernelConfig from a decoded config.json (errors name the field only)."""
    process = get_object(doc, "process", "process", default={})
    user = get_object(process, "user", "process.user", default={})
    config = KernelConfig(
        rootfs=_rootfs(doc, bundle_dir),
        args=_args(process),
        env=get_string_list(process, "env", "process.env", default=[]),
        cwd=_cwd(process),
        uid=get_uint(user, "uid", "process.user.uid", UINT32_MAX, default=0),
        gid=get_uint(user, "gid", "process.user.gid", UINT32_MAX, default=0),
        additional_gids=get_uint_list(user, "additionalGids", "process.user.additionalGids",
                                      UINT32_MAX),
        readonly_root=get_bool(get_object(doc, "root", "root"), "readonly", "root.readonly",
                               default=False),
        mounts=parse_mounts(doc, bundle_dir),
        rlimits=_rlimits(process),
    )
    if "umask" in user:
        # umask(2) keeps only the permission bits; runc passes the value
        # straight to it, so mask the same way instead of refusing.
        config.umask = get_uint(user, "umask", "process.user.umask", UINT32_MAX) & 0o777
    for key in ("hostname", "domainname"):
        if key in doc:
            setattr(config, key, _host_name(doc, key))
    config.memory_limit = _memory_limit(doc)
    linux = get_object(doc, "linux", "linux", default={})
    config.masked_paths = guest_paths(linux, "maskedPaths", "linux.maskedPaths")
    config.readonly_paths = guest_paths(linux, "readonlyPaths", "linux.readonlyPaths")
    return config


def guest_paths(obj: dict[str, Any], key: str, where: str) -> list[str]:
    """An array of absolute guest paths (runtime-spec: they MUST be absolute)."""
    paths = get_string_list(obj, key, where, default=[])
    for i, path in enumerate(paths):
        if not posixpath.isabs(path):
            raise BundleError(f"{where}[{i}] must be an absolute path, got {path!r}")
    # normpath keeps a leading "//" (POSIX allows it a meaning); Linux does not.
    return ["/" + posixpath.normpath(path).lstrip("/") for path in paths]


def _rootfs(doc: dict[str, Any], bundle_dir: str) -> str:
    root = get_object(doc, "root", "root")
    path = get_string(root, "path", "root.path")
    if not path:
        raise BundleError("root.path is empty")
    # Relative paths are relative to the bundle (OCI runtime spec, "Root").
    rootfs = os.path.abspath(os.path.join(bundle_dir, path))
    if not os.path.exists(rootfs):
        raise BundleError(f"root.path: the root file system {rootfs} does not exist")
    if not os.path.isdir(rootfs):
        raise BundleError(f"root.path: {rootfs} is not a directory")
    return rootfs


def _args(process: dict[str, Any]) -> list[str]:
    args = get_string_list(process, "args", "process.args", default=None)
    if args is None:
        raise BundleError("process.args is missing: nothing to run")
    if not args:
        raise BundleError("process.args is empty: nothing to run")
    if not args[0]:
        raise BundleError("process.args[0] is an empty string")
    return args


def _cwd(process: dict[str, Any]) -> str:
    cwd = get_string(process, "cwd", "process.cwd", default="/")
    if not posixpath.isabs(cwd):
        raise BundleError(f"process.cwd must be an absolute path, got {cwd!r}")
    return posixpath.normpath(cwd)


def _rlimits(process: dict[str, Any]) -> dict[str, tuple[int, int]]:
    limits: dict[str, tuple[int, int]] = {}
    for i, entry in enumerate(get_list(process, "rlimits", "process.rlimits", default=[])):
        where = f"process.rlimits[{i}]"
        if not isinstance(entry, dict):
            raise BundleError(f"{where}: expected an object, got {json_type(entry)}")
        name = get_string(entry, "type", f"{where}.type")
        if name not in RLIMIT_NAMES:
            raise BundleError(f"{where}.type: unknown resource {name!r}")
        if name in limits:
            raise BundleError(f"{where}.type: {name} is given twice")
        hard = get_uint(entry, "hard", f"{where}.hard", UINT64_MAX)
        soft = get_uint(entry, "soft", f"{where}.soft", UINT64_MAX)
        if soft > hard:
            # setrlimit(2) would fail with EINVAL inside the container; say so now.
            raise BundleError(f"{where}: soft limit {soft} is above hard limit {hard} for {name}")
        limits[name] = (soft, hard)
    return limits


def _host_name(doc: dict[str, Any], key: str) -> str:
    name = get_string(doc, key, key)
    if len(name.encode()) > HOST_NAME_MAX:
        raise BundleError(f"{key}: longer than {HOST_NAME_MAX} bytes")
    return name


def _memory_limit(doc: dict[str, Any]) -> int:
    """linux.resources.memory.limit in bytes; 0 (quark's default) when unset or unlimited."""
    linux = get_object(doc, "linux", "linux", default={})
    resources = get_object(linux, "resources", "linux.resources", default={})
    memory = get_object(resources, "memory", "linux.resources.memory", default={})
    limit = memory.get("limit")
    if limit is None:
        return 0
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise BundleError(
            f"linux.resources.memory.limit: expected an integer, got {json_type(limit)}")
    return limit if limit > 0 else 0   # -1 means unlimited in OCI
