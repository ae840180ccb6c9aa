"""Identity syscalls: uname, pids, uids/gids, groups, host and domain names.

The credentials are the guest's own (from the OCI process.user); they have no
meaning on the host, so changing them never needs a host call.  Permission
rules follow the man pages with one simplification: "has CAP_SETUID /
CAP_SETGID / CAP_SYS_ADMIN" is "euid is 0" (quark keeps no capability sets
yet).
"""
from __future__ import annotations

import errno
import struct
from typing import Any

from qkernel.errors import SyscallError

UTS_FIELD = 65          # __NEW_UTS_LEN + 1
UTS_MAX_NAME = 64       # __NEW_UTS_LEN
NGROUPS_MAX = 65536
ID_NONE = 0xFFFF_FFFF   # (uid_t)-1: "leave unchanged" / invalid id

SYSNAME = b"Linux"
# glibc refuses to run on kernels older than its configured minimum (3.2 for
# current x86-64 builds) and parses the leading "X.Y.Z" only.
RELEASE = b"6.1.0-quark"
VERSION = b"#1 SMP quark"
MACHINE = b"x86_64"


def _u32(v: int) -> int:
    return v & 0xFFFF_FFFF


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _name_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def _name_like(old: Any, raw: bytes) -> Any:
    """Store a new name in the type the kernel already uses (str or bytes)."""
    if isinstance(old, (bytes, bytearray)):
        return raw
    return raw.decode("utf-8", "surrogateescape")


def _privileged(task: Any) -> bool:
    return task.creds.euid == 0


# ---------------------------------------------------------------- uname / ids

def sys_uname(task: Any, buf: int) -> int:
    kernel = task.kernel
    fields = [SYSNAME, _name_bytes(getattr(kernel, "hostname", "quark")), RELEASE,
              VERSION, MACHINE, _name_bytes(getattr(kernel, "domainname", "(none)"))]
    data = b"".join(f[:UTS_MAX_NAME].ljust(UTS_FIELD, b"\0") for f in fields)
    task.mm.copy_out(buf, data)
    return 0


def sys_getpid(task: Any) -> int:
    return task.pid


def sys_gettid(task: Any) -> int:
    return task.tid


def sys_getppid(task: Any) -> int:
    return task.ppid


def sys_getuid(task: Any) -> int:
    return task.creds.uid


def sys_getgid(task: Any) -> int:
    return task.creds.gid


def sys_geteuid(task: Any) -> int:
    return task.creds.euid


def sys_getegid(task: Any) -> int:
    return task.creds.egid


def sys_getresuid(task: Any, ruid: int, euid: int, suid: int) -> int:
    c = task.creds
    task.mm.write_u32(ruid, c.uid)
    task.mm.write_u32(euid, c.euid)
    task.mm.write_u32(suid, c.suid)
    return 0


def sys_getresgid(task: Any, rgid: int, egid: int, sgid: int) -> int:
    c = task.creds
    task.mm.write_u32(rgid, c.gid)
    task.mm.write_u32(egid, c.egid)
    task.mm.write_u32(sgid, c.sgid)
    return 0


def sys_getgroups(task: Any, size: int, grouplist: int) -> int:
    size = _s32(size)
    groups = task.creds.groups
    if size < 0:
        raise SyscallError(errno.EINVAL)
    if size == 0:
        return len(groups)       # the caller asks how many there are
    if size < len(groups):
        raise SyscallError(errno.EINVAL)
    if groups:
        task.mm.copy_out(grouplist, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


def sys_setgroups(task: Any, size: int, grouplist: int) -> int:
    size = _s32(size)
    if not _privileged(task):
        raise SyscallError(errno.EPERM)
    if size < 0 or size > NGROUPS_MAX:
        raise SyscallError(errno.EINVAL)
    raw = task.mm.copy_in(grouplist, 4 * size) if size else b""
    groups = list(struct.unpack(f"<{size}I", raw))
    if any(g == ID_NONE for g in groups):
        raise SyscallError(errno.EINVAL)
    task.creds.groups = sorted(groups)   # Linux sorts them (groups_sort), keeps duplicates
    return 0


# ---------------------------------------------------------------- set*uid family
# The same rules serve uids and gids; `kind` picks the Credentials fields.

_FIELDS = {"u": ("uid", "euid", "suid", "fsuid"), "g": ("gid", "egid", "sgid", "fsgid")}


def _get(task: Any, kind: str) -> tuple[int, int, int, int]:
    c = task.creds
    return tuple(getattr(c, f) for f in _FIELDS[kind])  # type: ignore[return-value]


def _put(task: Any, kind: str, r: int, e: int, s: int, fs: int) -> None:
    c = task.creds
    for name, value in zip(_FIELDS[kind], (r, e, s, fs)):
        setattr(c, name, value)


def _setid(task: Any, kind: str, new: int) -> int:
    """setuid(2)/setgid(2)."""
    new = _u32(new)
    if new == ID_NONE:
        raise SyscallError(errno.EINVAL)
    r, _e, s, _fs = _get(task, kind)
    if _privileged(task):
        _put(task, kind, new, new, new, new)
    elif new in (r, s):
        _put(task, kind, r, new, s, new)
    else:
        raise SyscallError(errno.EPERM)
    return 0


def _setreid(task: Any, kind: str, new_r: int, new_e: int) -> int:
    """setreuid(2)/setregid(2): -1 leaves a field; the saved id follows the
    effective one when the real id is set or the effective one is set to a
    value other than the old real id."""
    new_r, new_e = _u32(new_r), _u32(new_e)
    r, e, s, _fs = _get(task, kind)
    priv = _privileged(task)
    nr = r if new_r == ID_NONE else new_r
    ne = e if new_e == ID_NONE else new_e
    if not priv:
        if new_r != ID_NONE and new_r not in (r, e):
            raise SyscallError(errno.EPERM)
        if new_e != ID_NONE and new_e not in (r, e, s):
            raise SyscallError(errno.EPERM)
    ns = s
    if new_r != ID_NONE or (new_e != ID_NONE and new_e != r):
        ns = ne
    _put(task, kind, nr, ne, ns, ne)
    return 0


def _setresid(task: Any, kind: str, new_r: int, new_e: int, new_s: int) -> int:
    """setresuid(2)/setresgid(2): unprivileged callers may only pick among
    their current real, effective and saved ids."""
    new = [_u32(v) for v in (new_r, new_e, new_s)]
    r, e, s, _fs = _get(task, kind)
    if not _privileged(task):
        for v in new:
            if v != ID_NONE and v not in (r, e, s):
                raise SyscallError(errno.EPERM)
    nr, ne, ns = (old if v == ID_NONE else v for v, old in zip(new, (r, e, s)))
    _put(task, kind, nr, ne, ns, ne)
    return 0


def _setfsid(task: Any, kind: str, new: int) -> int:
    """setfsuid(2)/setfsgid(2): always returns the previous value; a refused
    or invalid change is silent, as on Linux."""
    new = _u32(new)
    r, e, s, fs = _get(task, kind)
    if new != ID_NONE and (_privileged(task) or new in (r, e, s, fs)):
        _put(task, kind, r, e, s, new)
    return fs


def sys_setuid(task: Any, uid: int) -> int:
    return _setid(task, "u", uid)


def sys_setgid(task: Any, gid: int) -> int:
    return _setid(task, "g", gid)


def sys_setreuid(task: Any, ruid: int, euid: int) -> int:
    return _setreid(task, "u", ruid, euid)


def sys_setregid(task: Any, rgid: int, egid: int) -> int:
    return _setreid(task, "g", rgid, egid)


def sys_setresuid(task: Any, ruid: int, euid: int, suid: int) -> int:
    return _setresid(task, "u", ruid, euid, suid)


def sys_setresgid(task: Any, rgid: int, egid: int, sgid: int) -> int:
    return _setresid(task, "g", rgid, egid, sgid)


def sys_setfsuid(task: Any, fsuid: int) -> int:
    return _setfsid(task, "u", fsuid)


def sys_setfsgid(task: Any, fsgid: int) -> int:
    return _setfsid(task, "g", fsgid)


# ---------------------------------------------------------------- names
# Each sandbox has its own UTS namespace, so these change the guest's view only.

def _read_name(task: Any, addr: int, length: int) -> bytes:
    length = _s32(length)
    if not _privileged(task):
        raise SyscallError(errno.EPERM)
    if length < 0 or length > UTS_MAX_NAME:
        raise SyscallError(errno.EINVAL)
    return task.mm.copy_in(addr, length) if length else b""


def sys_sethostname(task: Any, name: int, length: int) -> int:
    raw = _read_name(task, name, length)
    task.kernel.hostname = _name_like(getattr(task.kernel, "hostname", ""), raw)
    return 0


def sys_setdomainname(task: Any, name: int, length: int) -> int:
    raw = _read_name(task, name, length)
    task.kernel.domainname = _name_like(getattr(task.kernel, "domainname", ""), raw)
    return 0
