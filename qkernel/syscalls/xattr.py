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
    res = ops.lookup(task, abi.AT_FDCWD, read_path(task, path), follow=follow)
    ops.stat(task, res)
    return res.loc


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


def _set(name: str, readonly: bool, flags: int) -> int:
    if readonly:
        raise SyscallError(errno.EROFS)
    _check_namespace(name)
    if s32(flags) & XATTR_REPLACE:
        raise SyscallError(errno.ENODATA)     # nothing to replace
    raise SyscallError(errno.ENOTSUP)


def sys_setxattr(task: Any, path: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    return _set(nm, _loc_readonly(_path_loc(task, path, True)), flags)


def sys_lsetxattr(task: Any, path: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    return _set(nm, _loc_readonly(_path_loc(task, path, False)), flags)


def sys_fsetxattr(task: Any, fd: int, name: int, value: int, size: int, flags: int) -> int:
    nm = _set_args(task, name, value, size, flags)
    return _set(nm, _file_readonly(io_file(task, fd)), flags)


# -- remove --------------------------------------------------------------------
def _remove(name: str, readonly: bool) -> int:
    if readonly:
        raise SyscallError(errno.EROFS)
    _check_namespace(name)
    raise SyscallError(errno.ENODATA)


def sys_removexattr(task: Any, path: int, name: int) -> int:
    nm = _name(task, name)
    return _remove(nm, _loc_readonly(_path_loc(task, path, True)))


def sys_lremovexattr(task: Any, path: int, name: int) -> int:
    nm = _name(task, name)
    return _remove(nm, _loc_readonly(_path_loc(task, path, False)))


def sys_fremovexattr(task: Any, fd: int, name: int) -> int:
    nm = _name(task, name)
    return _remove(nm, _file_readonly(io_file(task, fd)))
