"""Host-backed file system: a host directory (the rootfs, a bind mount or a
tmpfs stand-in) reached only through one directory fd opened at start-up.

Every operation opens what it needs with openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS) relative to that fd (the
parent directory for name operations, then os.* with dir_fd= and one plain
name), so no guest path can name a host file outside the directory.
The sandbox is host root: ownership of what the guest creates is set to the
guest's fsuid/fsgid, and permission checks use the guest's credentials.
"""
from __future__ import annotations

import errno
import os
import stat as st_mod
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi, perm
from qkernel.vfs.fsbase import FileSystem, LinkTarget, Parts
from qkernel.vfs.hostfile import HostDir, HostFile
from qkernel.vfs.hostpath import ParentDir, open_path, openat2, renameat2, utimensat
from qkernel.vfs.mounts import Location
from qkernel.vfs.statinfo import StatInfo

# Guest open flags the host may see (the rest are ours to interpret).
_HOST_OPEN_MASK = (abi.O_ACCMODE | abi.O_APPEND | abi.O_NONBLOCK | abi.O_DSYNC | abi.O_SYNC
                   | abi.O_DIRECT | abi.O_DIRECTORY | abi.O_NOATIME | abi.O_PATH | abi.O_LARGEFILE)


def _host(fn, *a, **kw):  # type: ignore[no-untyped-def]
    try:
        return fn(*a, **kw)
    except OSError as e:
        raise SyscallError(e.errno or errno.EIO) from None


class HostFileSystem(FileSystem):
    name = "host"

    def __init__(self, host_path: str, readonly: bool = False) -> None:
        real = os.path.realpath(host_path)       # the config (trusted) may name a symlink
        self.readonly = readonly
        if os.path.isdir(real):
            self.dirfd = os.open(real, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self.base: Parts = ()
        else:
            # A bind-mounted file: keep its directory's fd and serve one name.
            parent, leaf = os.path.split(real)
            self.dirfd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self.base = (leaf,)

    def close(self) -> None:
        if self.dirfd >= 0:
            os.close(self.dirfd)
            self.dirfd = -1

    def _rel(self, parts: Parts) -> str:
        return "/".join(self.base + parts) or "."

    def _check_writable(self) -> None:
        if self.readonly:
            raise SyscallError(errno.EROFS)

    def _parent(self, task: Any, parts: Parts, write: bool = True) -> ParentDir:
        """Parent dir of parts[-1]; checks the guest may write into it."""
        if not parts:
            raise SyscallError(errno.EBUSY)
        pd = ParentDir(self.dirfd, self._rel(parts[:-1]))
        if write and task.creds.fsuid != 0:
            fd = pd.__enter__()
            try:
                perm.check(StatInfo.from_host(os.fstat(fd)), task.creds, abi.W_OK | abi.X_OK)
            finally:
                pd.__exit__()
        return pd

    def _own(self, task: Any, name: str, dirfd: int) -> None:
        """Give what the guest created to the guest's ids (we are host root)."""
        gid = task.creds.fsgid
        pst = os.fstat(dirfd)
        if pst.st_mode & st_mod.S_ISGID:
            gid = pst.st_gid
        _host(os.chown, name, task.creds.fsuid, gid, dir_fd=dirfd, follow_symlinks=False)

    # -- lookup -----------------------------------------------------------------
    def first_symlink(self, task: Any, base: Parts, names: Parts,
                      follow_last: bool) -> tuple[int, LinkTarget] | None:
        try:
            fd = open_path(self.dirfd, self._rel(base + names))
        except SyscallError as e:
            if e.errno != errno.ELOOP:
                return None
            return self._find_symlink(base, names, follow_last)
        try:
            if follow_last and st_mod.S_ISLNK(os.fstat(fd).st_mode):
                return len(names) - 1, os.readlink("", dir_fd=fd)
            return None
        finally:
            os.close(fd)

    def _find_symlink(self, base: Parts, names: Parts, follow_last: bool) -> tuple[int, LinkTarget] | None:
        for i in range(len(names)):
            if i == len(names) - 1 and not follow_last:
                return None
            try:
                fd = open_path(self.dirfd, self._rel(base + names[: i + 1]))
            except SyscallError:
                return None
            try:
                if st_mod.S_ISLNK(os.fstat(fd).st_mode):
                    return i, os.readlink("", dir_fd=fd)
            finally:
                os.close(fd)
        return None

    def lstat(self, task: Any, parts: Parts) -> StatInfo:
        fd = open_path(self.dirfd, self._rel(parts))
        try:
            return StatInfo.from_host(os.fstat(fd))
        finally:
            os.close(fd)

    def readlink(self, task: Any, parts: Parts) -> str:
        fd = open_path(self.dirfd, self._rel(parts))
        try:
            if not st_mod.S_ISLNK(os.fstat(fd).st_mode):
                raise SyscallError(errno.EINVAL)
            return _host(os.readlink, "", dir_fd=fd)
        finally:
            os.close(fd)

    # -- open -------------------------------------------------------------------
    def open(self, task: Any, loc: Location, flags: int, mode: int, path: str) -> Any:
        parts = loc.parts
        hflags = (flags & _HOST_OPEN_MASK) | os.O_NOFOLLOW | os.O_NOCTTY
        if flags & abi.O_PATH:
            fd = openat2(self.dirfd, self._rel(parts), os.O_PATH | os.O_NOFOLLOW | (flags & abi.O_DIRECTORY))
            return self._wrap(fd, flags, path, loc)
        created = False
        try:
            if flags & abi.O_CREAT and flags & abi.O_EXCL:
                raise SyscallError(errno.ENOENT)      # go straight to creating
            fd = openat2(self.dirfd, self._rel(parts), hflags & ~abi.O_TRUNC & ~abi.O_ACCMODE
                         | (flags & abi.O_ACCMODE))
        except SyscallError as e:
            if e.errno != errno.ENOENT or not flags & abi.O_CREAT:
                raise
            fd = self._create(task, parts, hflags, mode)
            created = True
        try:
            hst = os.fstat(fd)
            if not created:
                self._check_open(task, hst, flags)
                if flags & abi.O_TRUNC and st_mod.S_ISREG(hst.st_mode) and flags & abi.O_ACCMODE:
                    os.ftruncate(fd, 0)
            return self._wrap(fd, flags, path, loc, hst)
        except BaseException:
            os.close(fd)
            raise

    def _check_open(self, task: Any, hst: os.stat_result, flags: int) -> None:
        wants_write = flags & abi.O_ACCMODE != abi.O_RDONLY or flags & abi.O_TRUNC
        if self.readonly and wants_write and (st_mod.S_ISREG(hst.st_mode) or st_mod.S_ISDIR(hst.st_mode)):
            raise SyscallError(errno.EROFS)
        if flags & abi.O_CREAT and flags & abi.O_EXCL:
            raise SyscallError(errno.EEXIST)
        if task.creds.fsuid != 0:
            perm.check(StatInfo.from_host(hst), task.creds, perm.want_for_open(flags))

    def _create(self, task: Any, parts: Parts, hflags: int, mode: int) -> int:
        self._check_writable()
        if hflags & abi.O_DIRECTORY:
            raise SyscallError(errno.EISDIR)
        with self._parent(task, parts) as pfd:
            fd = _host(os.open, parts[-1], (hflags & ~abi.O_DIRECTORY) | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                       0o600, dir_fd=pfd)
            os.fchmod(fd, mode & ~task.fs.umask & 0o7777)
            self._own(task, parts[-1], pfd)
            return fd

    def _wrap(self, fd: int, flags: int, path: str, loc: Location, hst: os.stat_result | None = None) -> Any:
        if hst is None:
            hst = os.fstat(fd)
        if st_mod.S_ISDIR(hst.st_mode) and not flags & abi.O_PATH:
            return HostDir(fd, flags, path, loc)
        return HostFile(fd, flags, path, loc, self.readonly)

    # -- namespace operations -------------------------------------------------------
    def mkdir(self, task: Any, parts: Parts, mode: int) -> None:
        self._check_writable()
        if not parts:
            raise SyscallError(errno.EEXIST)
        with self._parent(task, parts) as pfd:
            _host(os.mkdir, parts[-1], 0o700, dir_fd=pfd)
            _host(os.chmod, parts[-1], mode & ~task.fs.umask & 0o7777, dir_fd=pfd)
            self._own(task, parts[-1], pfd)

    def mknod(self, task: Any, parts: Parts, mode: int, dev: int) -> None:
        self._check_writable()
        kind = mode & abi.S_IFMT
        if kind not in (0, abi.S_IFREG, abi.S_IFIFO, abi.S_IFSOCK):
            raise SyscallError(errno.EPERM)     # no device nodes from the guest
        with self._parent(task, parts) as pfd:
            _host(os.mknod, parts[-1], (kind or abi.S_IFREG) | 0o600, 0, dir_fd=pfd)
            _host(os.chmod, parts[-1], mode & ~task.fs.umask & 0o7777, dir_fd=pfd)
            self._own(task, parts[-1], pfd)

    def unlink(self, task: Any, parts: Parts) -> None:
        self._check_writable()
        with self._parent(task, parts) as pfd:
            _host(os.unlink, parts[-1], dir_fd=pfd)

    def rmdir(self, task: Any, parts: Parts) -> None:
        self._check_writable()
        with self._parent(task, parts) as pfd:
            _host(os.rmdir, parts[-1], dir_fd=pfd)

    def symlink(self, task: Any, target: str, parts: Parts) -> None:
        self._check_writable()
        with self._parent(task, parts) as pfd:
            _host(os.symlink, target, parts[-1], dir_fd=pfd)
            self._own(task, parts[-1], pfd)

    def link(self, task: Any, old: Parts, new: Parts) -> None:
        self._check_writable()
        with self._parent(task, old, write=False) as ofd, self._parent(task, new) as nfd:
            _host(os.link, old[-1], new[-1], src_dir_fd=ofd, dst_dir_fd=nfd, follow_symlinks=False)

    def rename(self, task: Any, old: Parts, new: Parts, flags: int) -> None:
        self._check_writable()
        if not new:
            raise SyscallError(errno.EBUSY)
        with self._parent(task, old) as ofd, self._parent(task, new) as nfd:
            renameat2(ofd, old[-1], nfd, new[-1], flags)

    def chmod(self, task: Any, parts: Parts, mode: int) -> None:
        self._check_writable()
        fd = open_path(self.dirfd, self._rel(parts))
        try:
            hst = os.fstat(fd)
        finally:
            os.close(fd)
        _check_owner(task, hst)
        if st_mod.S_ISLNK(hst.st_mode):
            raise SyscallError(errno.EOPNOTSUPP)
        # An O_PATH fd cannot fchmod: go through the (confined) parent + name.
        parent, name = self._split(parts)
        with ParentDir(self.dirfd, parent) as pfd:
            _host(os.chmod, name, mode & 0o7777, dir_fd=pfd, follow_symlinks=False)

    def chown(self, task: Any, parts: Parts, uid: int, gid: int) -> None:
        self._check_writable()
        fd = open_path(self.dirfd, self._rel(parts))
        try:
            _check_chown(task, os.fstat(fd), uid, gid)
            # os.chown on an O_PATH fd goes through fchownat(AT_EMPTY_PATH): no path again.
            _fchown_empty(fd, uid, gid)
        finally:
            os.close(fd)

    def truncate(self, task: Any, parts: Parts, length: int) -> None:
        self._check_writable()
        fd = openat2(self.dirfd, self._rel(parts), os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            hst = os.fstat(fd)
            if st_mod.S_ISDIR(hst.st_mode):
                raise SyscallError(errno.EISDIR)
            if task.creds.fsuid != 0:
                perm.check(StatInfo.from_host(hst), task.creds, abi.W_OK)
            _host(os.ftruncate, fd, length)
        finally:
            os.close(fd)

    def utimens(self, task: Any, parts: Parts, times: tuple[tuple[int, int], tuple[int, int]] | None) -> None:
        self._check_writable()
        parent, name = self._split(parts)
        with ParentDir(self.dirfd, parent) as pfd:
            utimensat(pfd, name, times, abi.AT_SYMLINK_NOFOLLOW)

    def _split(self, parts: Parts) -> tuple[str, str]:
        """(parent path, name) of parts, for calls that take dir_fd + name."""
        full = self.base + parts
        if not full:
            return ".", "."            # the mount's root directory itself
        return "/".join(full[:-1]) or ".", full[-1]


def _fchown_empty(fd: int, uid: int, gid: int) -> None:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    # fchownat(fd, "", uid, gid, AT_EMPTY_PATH): works on O_PATH fds and symlinks.
    r = libc.fchownat(fd, b"", ctypes.c_uint(uid & 0xFFFFFFFF), ctypes.c_uint(gid & 0xFFFFFFFF),
                      abi.AT_EMPTY_PATH)
    if r < 0:
        raise SyscallError(ctypes.get_errno())


def _check_owner(task: Any, hst: os.stat_result) -> None:
    if task.creds.fsuid != 0 and hst.st_uid != task.creds.fsuid:
        raise SyscallError(errno.EPERM)


def _check_chown(task: Any, hst: os.stat_result, uid: int, gid: int) -> None:
    """Non-root may only change the group of its own file to one of its groups."""
    c = task.creds
    if c.fsuid == 0:
        return
    if uid != -1 and uid != hst.st_uid:
        raise SyscallError(errno.EPERM)
    if gid != -1 and (hst.st_uid != c.fsuid or (gid != c.fsgid and gid not in c.groups)):
        raise SyscallError(errno.EPERM)
