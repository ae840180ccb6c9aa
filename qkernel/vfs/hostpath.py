"""openat2(2) for host access confined to a directory fd.

Python has no os.openat2, so the raw syscall (437) is made through ctypes.
Every host path operation on a guest path starts here: the path is resolved
by the host kernel with RESOLVE_IN_ROOT (".." and absolute symlinks are
clamped to the directory fd) and RESOLVE_NO_MAGICLINKS (no /proc/*/fd jumps),
so nothing the guest names can reach a host file outside that directory.
"""
from __future__ import annotations

import ctypes
import os

from qkernel.errors import SyscallError

SYS_OPENAT2 = 437
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# What every guest-path lookup uses. NO_SYMLINKS as well: the VFS walk has
# already followed the guest's symlinks itself (they may cross mounts), so a
# symlink seen here appeared by a race and is refused rather than followed.
CONFINED = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = CONFINED) -> int:
    """Return a new host fd or raise SyscallError with the host errno."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_long(dirfd),
                  ctypes.c_char_p(os.fsencode(path)), ctypes.byref(how),
                  ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        raise SyscallError(ctypes.get_errno())
    return fd


def open_path(dirfd: int, path: str, directory: bool = False) -> int:
    """An O_PATH fd for `path` (not following a final symlink)."""
    flags = os.O_PATH | os.O_NOFOLLOW | (os.O_DIRECTORY if directory else 0)
    return openat2(dirfd, path or ".", flags)


class ParentDir:
    """Context manager: an O_PATH fd of a path's parent, opened confined.

    Use as `with ParentDir(rootfd, "a/b") as fd: os.mkdir(name, dir_fd=fd)`.
    """

    def __init__(self, rootfd: int, parent_path: str) -> None:
        self.rootfd = rootfd
        self.path = parent_path
        self.fd = -1

    def __enter__(self) -> int:
        self.fd = open_path(self.rootfd, self.path, directory=True)
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def host_errors(fn):  # type: ignore[no-untyped-def]
    """Decorator: turn OSError from host calls into SyscallError."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
        try:
            return fn(*a, **kw)
        except OSError as e:
            raise SyscallError(e.errno or 5) from None
    return wrapper


SYS_RENAMEAT2 = 316


def renameat2(olddir: int, oldname: str, newdir: int, newname: str, flags: int) -> None:
    """Python's os.rename has no flags (RENAME_NOREPLACE/EXCHANGE)."""
    r = _syscall(ctypes.c_long(SYS_RENAMEAT2), ctypes.c_long(olddir), ctypes.c_char_p(os.fsencode(oldname)),
                 ctypes.c_long(newdir), ctypes.c_char_p(os.fsencode(newname)), ctypes.c_uint(flags))
    if r < 0:
        raise SyscallError(ctypes.get_errno())


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_SYS_UTIMENSAT = 280


def _utimensat(dirfd: int, name: bytes | None, times: ctypes.c_void_p | None, flags: int) -> int:
    # The raw syscall: glibc's wrapper refuses a NULL name, which futimens needs.
    return _libc.syscall(_SYS_UTIMENSAT, ctypes.c_int(dirfd), ctypes.c_char_p(name),
                         times, ctypes.c_int(flags))


def utimensat(dirfd: int, name: str | None, times: tuple[tuple[int, int], tuple[int, int]] | None,
              flags: int) -> None:
    """utimensat with UTIME_NOW/UTIME_OMIT passed through (os.utime has no OMIT).
    name None: the fd itself (futimens)."""
    arr = None
    if times is not None:
        arr = (_Timespec * 2)(_Timespec(*times[0]), _Timespec(*times[1]))
    r = _utimensat(dirfd, None if name is None else os.fsencode(name),
                   None if arr is None else ctypes.cast(arr, ctypes.c_void_p), flags)
    if r < 0:
        raise SyscallError(ctypes.get_errno())
