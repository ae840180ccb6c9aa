"""statfs(2) answers: struct statfs (x86-64, 120 bytes) for a mount.

Host-backed mounts ask the host about the mount's directory fd (fstatfs
works on the O_PATH fd every HostFileSystem keeps) and report the magic of
what the guest sees there: a tmpfs mount is TMPFS_MAGIC even when its
backing directory is not on a tmpfs. In-kernel file systems answer with
their own magic and zero counts, as Linux's procfs and devtmpfs do.
"""
from __future__ import annotations

import ctypes
import errno
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qkernel.errors import SyscallError

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.file import OpenFile
    from qkernel.vfs.mounts import Mount

EXT4_SUPER_MAGIC = 0xEF53
TMPFS_MAGIC = 0x01021994
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
DEVPTS_SUPER_MAGIC = 0x1CD1
MQUEUE_MAGIC = 0x19800202
CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270
PIPEFS_MAGIC = 0x50495045
OVERLAYFS_SUPER_MAGIC = 0x794C7630
SECURITYFS_MAGIC = 0x73636673
BINFMTFS_MAGIC = 0x42494E4D

ST_RDONLY = 0x0001
ST_NOSUID = 0x0002
ST_NODEV = 0x0004
ST_NOEXEC = 0x0008
ST_VALID = 0x0020
ST_RELATIME = 0x0400

# Mount types the guest may see -> the magic Linux reports for them.
TYPE_MAGIC = {
    "tmpfs": TMPFS_MAGIC, "devtmpfs": TMPFS_MAGIC, "proc": PROC_SUPER_MAGIC,
    "sysfs": SYSFS_MAGIC, "devpts": DEVPTS_SUPER_MAGIC, "mqueue": MQUEUE_MAGIC,
    "cgroup": CGROUP_SUPER_MAGIC, "cgroup2": CGROUP2_SUPER_MAGIC,
    "securityfs": SECURITYFS_MAGIC, "binfmt_misc": BINFMTFS_MAGIC,
}

STATFS = struct.Struct("<qqQQQQQiiqqq4q")
assert STATFS.size == 120

_SYS_FSTATFS = 138
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class StatFs:
    type: int
    bsize: int = 4096
    blocks: int = 0
    bfree: int = 0
    bavail: int = 0
    files: int = 0
    ffree: int = 0
    fsid: tuple[int, int] = (0, 0)
    namelen: int = 255
    frsize: int = 4096
    flags: int = ST_VALID

    def pack(self) -> bytes:
        return STATFS.pack(self.type, self.bsize, self.blocks, self.bfree, self.bavail,
                           self.files, self.ffree, _s32(self.fsid[0]), _s32(self.fsid[1]),
                           self.namelen, self.frsize, self.flags, 0, 0, 0, 0)


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def host_fstatfs(fd: int) -> StatFs:
    """The host's struct statfs of a host fd (O_PATH fds included)."""
    buf = ctypes.create_string_buffer(STATFS.size)
    r = _libc.syscall(ctypes.c_long(_SYS_FSTATFS), ctypes.c_long(fd), buf)
    if r < 0:
        raise SyscallError(ctypes.get_errno() or errno.EIO)
    f = STATFS.unpack(buf.raw)
    return StatFs(type=f[0] & 0xFFFF_FFFF, bsize=f[1], blocks=f[2], bfree=f[3], bavail=f[4],
                  files=f[5], ffree=f[6], fsid=(f[7], f[8]), namelen=f[9], frsize=f[10],
                  flags=f[11])


def is_host_tmpfs(path: str) -> bool:
    import os
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return host_fstatfs(fd).type == TMPFS_MAGIC
    except SyscallError:
        return False
    finally:
        os.close(fd)


def statfs_of_mount(mount: "Mount") -> StatFs:
    fs = mount.fs
    mtype = mount.type
    dirfd = getattr(fs, "dirfd", -1)
    if dirfd is not None and dirfd >= 0:
        st = host_fstatfs(dirfd)
        if mtype in TYPE_MAGIC:
            st.type = TYPE_MAGIC[mtype]           # else what the host says (ext4, overlay, ...)
    else:
        magic = TYPE_MAGIC.get(mtype, getattr(fs, "magic", TMPFS_MAGIC))
        dev = getattr(fs, "dev", 0)
        st = StatFs(type=magic, fsid=(dev, 0))
        st.flags = ST_VALID | ST_RELATIME | ST_NOSUID
        if mtype == "proc":
            st.flags |= ST_NODEV | ST_NOEXEC
    if getattr(fs, "readonly", False):
        st.flags |= ST_RDONLY
    st.flags |= ST_VALID
    return st


def statfs_of_file(task: Any, f: "OpenFile") -> StatFs:
    """fstatfs: the mount the file was opened on; a file without a place in
    the tree (pipe, the sandbox's stdio) answers for what backs it."""
    if f.location is not None and f.location.file is None:
        return statfs_of_mount(f.location.mount)
    from qkernel.vfs.pipe import PipeEnd
    if isinstance(f, PipeEnd):
        return StatFs(type=PIPEFS_MAGIC, bsize=4096, namelen=255, frsize=4096)
    fd = getattr(f, "fd", -1)
    if isinstance(fd, int) and fd >= 0:
        return host_fstatfs(fd)
    return StatFs(type=TMPFS_MAGIC)
