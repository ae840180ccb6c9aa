"""Extended attributes: none are stored.

Every file answers as one on a file system with xattr support and no
attributes set: get and remove give ENODATA, list gives an empty list, set
gives ENOTSUP (EROFS on a read-only mount). Names are checked as Linux
checks them (empty or longer than 255 bytes: ERANGE; a namespace other than
user/trusted/security/system: EOPNOTSUPP), and paths resolve as usual
(ENOENT, ENOTDIR, ELOOP, ...).
"""
from __future__ import annotations

import errno
from typing import Any

from qkernel.errors import SyscallError
from qkernel.syscalls.fs_common import io_file, read_path, s32
from qkernel.vfs import abi, ops
from qkernel.vfs.mounts import Location

XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_CREATE = 1
XATTR_REPLACE = 2
_NAMESPACES = ("user.", "trusted.", "security.", "system.")


def _name(task: Any, addr: int) -> str:
    try:
        raw = task.mm.read_cstring(addr, XATTR_NAME_MAX + 1)
    except SyscallError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise SyscallError(errno.ERANGE) from None
        raise
    if not raw:
        raise SyscallError(errno.ERANGE)
    return raw.decode("utf-8", "surrogateescape")


def _check_namespace(name: str) -> None:
    if not name.startswith(_NAMESPACES) or name in _NAMESPACES:
        raise SyscallError(errno.EOPNOTSUPP)


def _path_loc(task: Any, path: int, follow: bool) -> Location:
    return _path_target(task, path, follow)[0]


def _path_target(task: Any, path: int, follow: bool) -> tuple[Location, int]:
    """The location and its file type (S_IFMT bits)."""
    res = ops.lookup(task, abi.AT_FDCWD, read_path(task, path), follow=follow)
    st = ops.stat(task, res)
    return res.loc, st.mode & abi.S_IFMT


def _user_ns_writable(name: str, kind: int) -> None:
    """user.* attributes live only on regular files and directories: changing
    one elsewhere is EPERM (Linux's xattr_permission)."""
    if name.startswith("user.") and kind not in (abi.S_IFREG, abi.S_IFDIR):
        raise SyscallError(errno.EPERM)


def _loc_readonly(loc: Location) -> bool:
    if loc.file is not None:
        return _file_readonly(loc.file)
    return bool(loc.fs.readonly)


def _file_readonly(f: Any) -> bool:
    if f.location is not None and f.location.file is None:
        return bool(f.location.fs.readonly)
    return bool(getattr(f, "readonly", False))


# -- get ---------------------------------------------------------------------
def _get(task: Any, name_addr: int) -> int:
    _check_namespace(_name(task, name_addr))
    raise SyscallError(errno.ENODATA)


def sys_getxattr(task: Any, path: int, name: int, value: int, size: int) -> int:
    _path_loc(task, path, True)
    return _get(task, name)


def sys_lgetxattr(task: Any, path: int, name: int, value: int, size: int) -> int:
    _path_loc(task, path, False)
    return _get(task, name)


def sys_fgetxattr(task: Any, fd: int, name: int, value: int, size: int) -> int:
    io_file(task, fd)
    return _get(task, name)


# -- list --------------------------------------------------------------------
def sys_listxattr(task: Any, path: int, list_: int, size: int) -> int:
    _path_loc(task, path, True)
    return 0


def sys_llistxattr(task: Any, path: int, list_: int, size: int) -> int:
    _path_loc(task, path, False)
    return 0


def sys_flistxattr(task: Any, fd: int, list_: int, size: int) -> int:
    io_file(task, fd)
    return 0


# -- set ---------------------------------------------------------------------
def _set_args(task: Any, name: int, value: int, size: int, flags: int) -> str:
    flags = s32(flags)
    if flags & ~(XATTR_CREATE | XATTR_REPLACE):
        raise SyscallError(errno.EINVAL)
    nm = _name(task, name)
    if size > XATTR_SIZE_MAX:
        raise SyscallError(errno.E2BIG)
    if size:
        task.mm.copy_in(value, size)
    return nm


def _set(name: str, readonly: bool, flags: int, kind: int) -> int:
    if readonly:
        raise SyscallError(errno.EROFS)
    _user_ns_writable(name, kind)
    _check_namespace(name)
    if s32(flags) & XATTR_REPLACE:
        raise SyscallError(errno.ENODATA)     # nothing to replace
    raise SyscallError(errno.ENOTSUP)


def sys_setxattr(task: Any, path: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    loc, kind = _path_target(task, path, True)
    return _set(nm, _loc_readonly(loc), flags, kind)


def sys_lsetxattr(task: Any, path: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    loc, kind = _path_target(task, path, False)
    return _set(nm, _loc_readonly(loc), flags, kind)


def sys_fsetxattr(task: Any, fd: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    f = io_file(task, fd)
    return _set(nm, _file_readonly(f), flags, f.stat(task).mode & abi.S_IFMT)


# -- remove --------------------------------------------------------------------
def _remove(name: str, readonly: bool, kind: int) -> int:
    if readonly:
        raise SyscallError(errno.EROFS)
    _user_ns_writable(name, kind)
    _check_namespace(name)
    raise SyscallError(errno.ENODATA)


def sys_removexattr(task: Any, path: int, name: int) -> int:
    nm = _name(task, name)
    loc, kind = _path_target(task, path, True)
    return _remove(nm, _loc_readonly(loc), kind)


def sys_lremovexattr(task: Any, path: int, name: int) -> int:
    nm = _name(task, name)
    loc, kind = _path_target(task, path, False)
    return _remove(nm, _loc_readonly(loc), kind)


def sys_fremovexattr(task: Any, fd: int, name: int) -> int:
    nm = _name(task, name)
    f = io_file(task, fd)
    return _remove(nm, _file_readonly(f), f.stat(task).mode & abi.S_IFMT)
