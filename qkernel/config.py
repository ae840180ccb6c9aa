"""What a sandbox's kernel is built from: the parts of config.json QKernel uses.

The OCI layer (qvisor/oci) turns a bundle into a KernelConfig; QKernel never
reads config.json itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MountSpec:
    destination: str                 # absolute guest path
    type: str                        # bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup, ...
    source: str = ""                 # host path for bind mounts
    options: list[str] = field(default_factory=list)

    @property
    def readonly(self) -> bool:
        return "ro" in self.options


@dataclass
class KernelConfig:
    rootfs: str                      # absolute host path of the root file system
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    umask: int = 0o022
    readonly_root: bool = False
    hostname: str = "quark"
    domainname: str = "(none)"
    mounts: list[MountSpec] = field(default_factory=list)
    rlimits: dict[str, tuple[int, int]] = field(default_factory=dict)   # "RLIMIT_NOFILE" -> (soft, hard)
    memory_limit: int = 0            # bytes of guest memory; 0 = default
    # linux.maskedPaths / linux.readonlyPaths (absolute guest paths), applied
    # by build_vfs after the mounts; paths missing in the guest are skipped.
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    strace: bool = False
    no_new_privileges: bool = False  # process.noNewPrivileges: PR_GET_NO_NEW_PRIVS answers 1
    tmpfs_base: str | None = None    # host dir under which tmpfs mounts live; None = build_vfs's default
