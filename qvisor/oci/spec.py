"""The starting config.json that `quark spec` writes.

It has the same content as `runc spec` (and `runc spec --rootless`), so a
bundle made for one runtime works with the other and tools that edit runc's
template find the fields they expect.
"""
from __future__ import annotations

import json
import os
from typing import Any

from qvisor.oci.config import CONFIG_NAME
from qvisor.oci.errors import BundleError

OCI_VERSION = "1.0.2-dev"   # the runtime-spec version runc 1.1 writes

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]

# Paths of /proc and /sys the container must not see or change.
_MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
    "/proc/scsi",
]
_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def _process() -> dict[str, Any]:
    return {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {kind: list(_CAPS)
                         for kind in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    }


def _mounts(rootless: bool) -> list[dict[str, Any]]:
    devpts_options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if not rootless:
        # An unprivileged user cannot map gid 5 (tty), so rootless omits it.
        devpts_options.append("gid=5")
    if rootless:
        # A new sysfs needs a network namespace the user owns; bind the host's.
        sysfs = {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", *_NOSUID_NOEXEC_NODEV, "ro"]}
    else:
        sysfs = {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": [*_NOSUID_NOEXEC_NODEV, "ro"]}
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": devpts_options},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*_NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": list(_NOSUID_NOEXEC_NODEV)},
        sysfs,
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*_NOSUID_NOEXEC_NODEV, "relatime", "ro"]},
    ]


def _linux(rootless: bool) -> dict[str, Any]:
    linux: dict[str, Any] = {}
    if rootless:
        # Map root in the container to the invoking user, one id only.
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
        namespaces = ["pid", "ipc", "uts", "mount", "user"]
    else:
        # Deny all devices by default; a rootless user cannot set cgroup rules.
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
        namespaces = ["pid", "network", "ipc", "uts", "mount"]
    linux["namespaces"] = [{"type": ns} for ns in namespaces]
    linux["maskedPaths"] = list(_MASKED_PATHS)
    linux["readonlyPaths"] = list(_READONLY_PATHS)
    return linux


def default_spec(rootless: bool = False) -> dict[str, Any]:
    """A fresh copy of the template config.json (runs `sh` on a terminal)."""
    return {
        "ociVersion": OCI_VERSION,
        "process": _process(),
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": _mounts(rootless),
        "linux": _linux(rootless),
    }


def dump_spec(spec: dict[str, Any]) -> str:
    # Tab indentation, key order as given: the same layout runc writes.
    return json.dumps(spec, indent="\t") + "\n"


def write_spec(bundle: str, rootless: bool = False,
               spec: dict[str, Any] | None = None) -> str:
    """Write <bundle>/config.json; refuse to replace an existing one, like runc."""
    if not os.path.isdir(bundle):
        raise BundleError(f"bundle {bundle}: no such directory")
    path = os.path.join(bundle, CONFIG_NAME)
    if os.path.lexists(path):
        raise BundleError(f"File {CONFIG_NAME} exists. Remove it first")
    text = dump_spec(spec if spec is not None else default_spec(rootless))
    try:
        # O_EXCL: never clobber a file that appeared since the check above.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise BundleError(f"File {CONFIG_NAME} exists. Remove it first") from None
    except OSError as err:
        raise BundleError(f"cannot write {path}: {err.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
