"""`quark features`: the runtime-spec "features document" (features.md,
features-linux.md), with the shape `runc features` (runc 1.1) prints.

It says what quark recognizes in config.json, not what this host can do
(the spec wants it fixed when the runtime is built). Settings the VM
boundary replaces are recognized and accepted, so they are listed; what
quark does not implement says so (seccomp, AppArmor and SELinux disabled:
QKernel serves every syscall itself, so there is no host LSM or seccomp
filter to configure).
"""
from __future__ import annotations

from typing import Any

from qvisor.oci.container import CAPABILITIES, HOOK_PHASES, NAMESPACE_TYPES
from qvisor.oci.spec import OCI_VERSION

OCI_VERSION_MIN = "1.0.0"

# The generic mount(8) flags: config.json "options" quark accepts without
# complaint. QKernel acts on ro/rw, bind/rbind and shows nosuid/nodev/noexec
# in /proc/self/mounts; atime, propagation and sync flags have no meaning
# for its in-VM tree and are accepted as no-ops. File-system specific data
# (mode=, size=, ...) is not listed, as the spec asks.
MOUNT_OPTIONS = (
    "acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
    "iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime",
    "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
    "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
    "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
    "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
    "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent",
    "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
)

ANNOTATION_VERSION = "run.quark.version"
ANNOTATION_ISOLATION = "run.quark.isolation"


def features_document() -> dict[str, Any]:
    """The features document as a JSON-ready dict (print with indent=4, as runc does)."""
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_PHASES),
        "mountOptions": list(MOUNT_OPTIONS),
        "linux": {
            "namespaces": sorted(NAMESPACE_TYPES),
            "capabilities": list(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": False},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {
            ANNOTATION_VERSION: _quark_version(),
            ANNOTATION_ISOLATION: "kvm",      # every container is a VM served by QKernel
        },
    }


def _quark_version() -> str:
    # The CLI owns the version string; imported here, not at module load,
    # so the features module stays importable on its own.
    from qvisor.cli import VERSION
    return VERSION


__all__ = ["MOUNT_OPTIONS", "OCI_VERSION_MIN", "features_document"]
